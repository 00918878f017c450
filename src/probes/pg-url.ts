/**
 * Reading a `postgres://` URL as libpq does where WHATWG URLs cannot: a user before an empty
 * host, `postgres://user@/db?host=/run/postgresql`, which `new URL` refuses. Internal.
 */
import { withEmptyHost } from '../core/redact.js'

/**
 * `new URL(text)`, or, for a postgres URL with user info before an empty host whose `host`
 * parameter says where to connect, the same URL with `localhost` as its host (the parameter
 * overrides it, as in libpq). Throws what `new URL` throws for anything else.
 */
export function parsePgUrl(text: string): URL {
  try {
    return new URL(text)
  } catch (error) {
    const url = hasEmptyHost(text) ? withEmptyHost(text) : undefined
    if (!url?.searchParams.get('host')) throw error
    written.set(url, text)
    return url
  }
}

/** Whether `text` is a postgres URL with user info before an empty host (`postgres://user@/db`). */
export function hasEmptyHost(text: string): boolean {
  return /^postgres(?:ql)?:/i.test(text) && withEmptyHost(text) !== undefined
}

/** The URL as its user wrote it, for messages: what `parsePgUrl` read, or `url.href`. */
export function writtenAs(url: URL): string {
  return written.get(url) ?? url.href
}

const written = new WeakMap<URL, string>()
