/** A mistake in the command line: printed as `usage error: …` with a hint, exit status 1. */
export class UsageError extends Error {
  override name = 'UsageError'
}
