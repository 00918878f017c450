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
 */
import { readFileSync } from 'node:fs'
import { SECRET_KEY, SECRET_NAME, type SecretSet } from '../core/redact.js'

/** Registers every credential of `spec` (a check spec, or any part of one) with `secrets`. */
export function registerSecrets(spec: object, secrets: SecretSet): void {
  walk(spec, secrets, 0)
}

function walk(value: unknown, secrets: SecretSet, depth: number): void {
  if (depth > 8 || value === null || typeof value !== 'object') return
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') field(key, v, secrets)
    else if (Array.isArray(v) && SECRET_KEY.test(key)) {
      // A list of secrets (a push check's `tokens`).
      for (const item of v) if (typeof item === 'string') secrets.add(item)
    } else if (v && typeof v === 'object') {
      if (key === 'headers') secrets.addHeaders(v as Record<string, string>)
      else if (key === 'env') {
        for (const [name, secret] of Object.entries(v)) {
          if (typeof secret === 'string' && SECRET_NAME.test(name)) secrets.add(secret)
        }
      } else walk(v, secrets, depth + 1)
    }
  }
}

function field(key: string, value: string, secrets: SecretSet): void {
  if (/url$/i.test(key)) {
    secrets.addUrl(value)
    return
  }
  const file = /^(.*?)[-_]?file$/i.exec(key)
  if (file) {
    if (/^key$/i.test(file[1] as string) || SECRET_KEY.test(file[1] as string)) fileSecrets(value, secrets)
    return
  }
  if (SECRET_KEY.test(key)) secrets.add(value)
}

function fileSecrets(file: string, secrets: SecretSet): void {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
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
