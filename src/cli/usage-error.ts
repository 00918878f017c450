/** A mistake in the command line: printed as `usage error: …` with a hint, exit status 1. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/**
 * A malformed header as a usage error shows it: its first word only, since the rest may be
 * a credential (`Authorization Bearer TOKEN`, the colon forgotten).
 */
export function headerShown(header: string): string {
  const name = /^[^\s:]*/.exec(header)?.[0] ?? ''
  return name.length < header.length ? `${name}…` : header
}
