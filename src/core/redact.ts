/**
 * Credentials never leave probekit: every reason, log line, report, CLI line and stored
 * result passes through `redact`. Redaction is textual so it also catches secrets that a
 * driver embeds in its own error messages.
 */

const MASK = '***'

// scheme://user:password@host — keep the user (useful when authentication fails), mask the password.
const userinfoPassword = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@]*):([^\s/?#@]*)@/gi
// scheme://token@host (no colon): a lone token in the userinfo is a secret too (e.g. https://TOKEN@host).
const userinfoToken = /\b((?:https?|rediss?|wss?):\/\/)([^\s:/?#@]{16,})@/gi
// key=value and key: value pairs in connection strings, query strings and messages.
const secretPair =
  /\b(password|passwd|pwd|pass|secret|token|api[_-]?key|access[_-]?key|auth[_-]?token|client[_-]?secret|sslpassword)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'")]+)/gi
// Authorization headers echoed into messages.
const authorization = /\b(authorization\s*[:=]\s*)(basic|bearer|digest)?\s*([^\s,;]+)/gi

const extraSecrets = new Set<string>()

/** Registers a literal secret (e.g. a password from the environment) to be masked everywhere. */
export function addSecret(secret: string): void {
  if (secret && secret.length >= 4) extraSecrets.add(secret)
}

/** Returns `text` with every credential replaced by `***`. */
export function redact(text: string): string {
  if (!text) return text
  let out = text
  if (out.includes('@')) {
    out = out.replace(userinfoPassword, (_m, scheme: string, user: string, password: string) =>
      password ? `${scheme}${user}:${MASK}@` : `${scheme}${user}:@`,
    )
    out = out.replace(userinfoToken, (_m, scheme: string) => `${scheme}${MASK}@`)
  }
  out = out.replace(secretPair, (_m, key: string, sep: string) => `${key}${sep}${MASK}`)
  out = out.replace(authorization, (_m, key: string, scheme: string | undefined) =>
    scheme ? `${key}${scheme} ${MASK}` : `${key}${MASK}`,
  )
  for (const secret of extraSecrets) if (out.includes(secret)) out = out.split(secret).join(MASK)
  return out
}

/** A URL with its password (and secret query parameters) masked, for display. */
export function redactUrl(url: string | URL): string {
  return redact(typeof url === 'string' ? url : url.href)
}
