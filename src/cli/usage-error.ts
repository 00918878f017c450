/** A mistake in the command line: printed as `usage error: …` with a hint, exit status 1. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The characters of a header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * A `--header` as curl takes it (`Name: value`), or a UsageError saying what is wrong with
 * it. The error shows as little as says it: the name when it is one, else the characters
 * before the first that a name cannot hold, since the rest may be a credential
 * (`Authorization Bearer TOKEN`, the colon forgotten). A lone word is not shown at all: it
 * may be the credential itself.
 */
export function parseHeaderFlag(header: string): { name: string; value: string } {
  const colon = header.indexOf(':')
  const name = colon > 0 ? header.slice(0, colon).trim() : ''
  const fix = "write it as 'Name: value'"
  if (colon < 0) {
    const word = /^[^\s]*/.exec(header)?.[0] ?? ''
    const shown = word.length < header.length && HEADER_NAME.test(word) ? `"${word}…"` : 'given'
    throw new UsageError(`the --header ${shown} has no colon; ${fix}`)
  }
  if (!name) throw new UsageError(`the --header given has no name before its colon; ${fix}`)
  if (!HEADER_NAME.test(name)) {
    const bad = [...name].findIndex((c) => !HEADER_NAME.test(c))
    const char = name[bad] as string
    const what = char === ' ' ? 'a space' : char === '\t' ? 'a tab' : JSON.stringify(char)
    throw new UsageError(
      `the --header "${name.slice(0, bad)}…" has ${what} in its name, which a header name cannot hold; ${fix}`,
    )
  }
  if (/[\r\n\0]/.test(header))
    throw new UsageError(`the --header "${name}: …" holds a line break or NUL, which a header cannot; ${fix}`)
  return { name, value: header.slice(colon + 1).trim() }
}
