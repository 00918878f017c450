/**
 * The credentials a check spec configures, registered with the monitor's `SecretSet` so
 * they are masked by value in everything it stores, serves, logs and sends — also when a
 * target echoes them back. The walk is generic over the spec, so a new kind of check or a
 * new secret field is covered without a change here:
 *
 * - every `url` (any key ending in `url`): see `SecretSet.addUrl` (userinfo, its Basic
 *   base64, secret query parameters);
 * - `headers`: see `SecretSet.addHeaders` (Authorization, Cookie, X-Api-Key and any name
 *   that says secret; other headers are not masked);
 * - `env`: values of variables whose name says secret (`PGPASSWORD`, `API_TOKEN`);
 * - any other string field whose name says secret (`token`, `password`, `secret`), or list
 *   of strings (`tokens`), at any depth;
 * - a `…_file`/`…File` field whose name says secret (`token_file`) and a TLS `keyFile`:
 *   the file's contents (each line of a PEM key), read when the manifest loads.
 *
 * The URLs of the notifiers (webhooks, Alertmanager) are registered by `registerReceiverSecrets`.
 */

import { decodeLoose, SECRET_KEY, SECRET_NAME, type SecretSet } from '../core/redact.js'
import { readSmallFileSync } from '../core/small-file.js'

/**
 * Registers every credential of `spec` (a check spec, or any part of one) with `secrets`.
 * Returns whether it read a file for them: registering the same spec again adds nothing
 * unless it did (the file may say something else by then).
 */
export function registerSecrets(spec: object, secrets: SecretSet): boolean {
  return walk(spec, secrets, 0)
}

function walk(value: unknown, secrets: SecretSet, depth: number): boolean {
  if (depth > 8 || value === null || typeof value !== 'object') return false
  let readFile = false
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') readFile = field(key, v, secrets) || readFile
    else if (Array.isArray(v) && SECRET_KEY.test(key)) {
      // A list of secrets (a push check's `tokens`).
      for (const item of v) if (typeof item === 'string') secrets.add(item)
    } else if (v && typeof v === 'object') {
      if (key === 'headers') secrets.addHeaders(v as Record<string, string>)
      else if (key === 'env') {
        for (const [name, secret] of Object.entries(v)) {
          if (typeof secret === 'string' && SECRET_NAME.test(name)) secrets.add(secret)
        }
      } else readFile = walk(v, secrets, depth + 1) || readFile
    }
  }
  return readFile
}

/** Registers the secret a field holds or names; true if it read a file for it. */
function field(key: string, value: string, secrets: SecretSet): boolean {
  if (/url$/i.test(key)) {
    secrets.addUrl(value)
    return false
  }
  const file = /^(.*?)[-_]?file$/i.exec(key)
  if (file) {
    if (!/^key$/i.test(file[1] as string) && !SECRET_KEY.test(file[1] as string)) return false
    fileSecrets(value, secrets)
    return true
  }
  if (SECRET_KEY.test(key)) secrets.add(value)
  return false
}

function fileSecrets(file: string, secrets: SecretSet): void {
  let text: string
  try {
    text = readSmallFileSync(file).toString('utf8')
  } catch {
    return // the checker reports a file it cannot read
  }
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    // PEM armour lines are public; the base64 lines between them are the key.
    if (line && !line.startsWith('-----')) secrets.add(line)
  }
  secrets.add(text.trim())
}

/** Parts of a notifier's URL shorter than this are never taken for secrets (`hooks`, `api`, `v2`, `json`). */
const MIN_URL_PART_SECRET_LENGTH = 8
/**
 * What people name paths and settings with: words in lower, Capitalised or UPPER case, of
 * up to 15 letters, joined by `-`, `_` or `.` (`probekit`, `alertmanager-receiver`, `Alerts`).
 * Anything else as long as `MIN_URL_PART_SECRET_LENGTH` — a digit, a mixed-case run, other
 * characters, a run of 16 letters or more — reads as generated, so as a secret.
 */
const PLAIN_WORDS =
  /^(?:[a-z]{1,15}|[A-Z][a-z]{1,14}|[A-Z]{1,15})(?:[-_.](?:[a-z]{1,15}|[A-Z][a-z]{1,14}|[A-Z]{1,15}))*$/

/** Whether a path segment or query value of a notifier's URL looks like a secret (`T0123ABCD`, a UUID, `HOOKSIG555`). */
export function looksSecret(part: string): boolean {
  return part.length >= MIN_URL_PART_SECRET_LENGTH && !PLAIN_WORDS.test(part)
}

/**
 * Registers the secrets of a notifier's URL (`--webhook`, `--alertmanager`) with `secrets`,
 * so they are masked by value like a manifest's — also when a target echoes them back:
 *
 * - the userinfo as `SecretSet.addUrl` takes it (the password, `user:password` and its
 *   base64, a lone token), and query values whose name says secret;
 * - every path segment and every other query value that `looksSecret`, each on its own
 *   (as sent and decoded): a receiver echoes them apart (`/hooks/{token}`);
 * - for a webhook, also its whole path and its path with the query: a chat webhook's path
 *   is its secret, however plain its words (`/services/T0001/B0002/ops-alerts`).
 *
 * The user name alone is not masked: it is no secret, and masking it would mask every
 * word that spells it. A URL that does not parse registers nothing (the sender refuses it).
 */
export function registerReceiverSecrets(
  url: string | URL,
  secrets: SecretSet,
  receiver: 'webhook' | 'alertmanager',
): void {
  let parsed: URL
  try {
    parsed = typeof url === 'string' ? new URL(url) : url
  } catch {
    return
  }
  secrets.addUrl(parsed)
  for (const segment of parsed.pathname.split('/')) addIfSecret(segment, decodeLoose(segment), secrets)
  for (const pair of parsed.search.slice(1).split('&')) {
    const equals = pair.indexOf('=')
    if (equals < 0) continue
    const raw = pair.slice(equals + 1)
    addIfSecret(raw, decodeLoose(raw.replaceAll('+', ' ')), secrets)
  }
  if (receiver === 'webhook' && parsed.pathname !== '/') {
    secrets.add(parsed.pathname)
    secrets.add(`${parsed.pathname}${parsed.search}`)
  }
}

function addIfSecret(raw: string, decoded: string, secrets: SecretSet): void {
  if (!looksSecret(decoded) && !looksSecret(raw)) return
  secrets.add(decoded)
  secrets.add(raw)
}
