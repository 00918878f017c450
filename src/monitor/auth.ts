/**
 * Who may read and write the monitor's listener (DESIGN.md section 8).
 *
 * - **Credentials.** Bearer tokens from `--auth-token-file` (one a line, reread on SIGHUP)
 *   let a client read and write; a push check's own secret (manifest `token` or
 *   `token_file`) lets a job report for that one check and nothing else.
 * - **Routes are classed, not listed.** Every request passes `Access.admit` before its
 *   handler runs, with the class its route declares in the API's route table (api.ts; an
 *   unknown path is `api`): GET and HEAD are reads, every other method is a write. A new
 *   write route (`POST /v1/silences`, …) is therefore guarded without a line of its own;
 *   only the push route, whose secret depends on the check, asks `Access.admitPush` in
 *   addition.
 * - **Browsers cannot be made to write.** A write whose `Origin` is not the monitor's own
 *   is refused (403), and a `Host` that is not one of the monitor's names is refused (421)
 *   before anything else, which is what stops DNS rebinding: a rebinding page reaches the
 *   monitor under the attacker's hostname, never under an IP literal.
 *
 * The monitor's own `/livez`, `/readyz` and `/healthz` are answered before any of this runs
 * (the orchestrator probes them with whatever Host it likes, and they tell nothing).
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { fileProblem, readSmallFileSync } from '../core/small-file.js'

/** The shortest token accepted: shorter secrets can be guessed. */
export const MIN_TOKEN_LENGTH = 16

/** A credential file or value that cannot be used, in one sentence naming the fix. */
export class TokenError extends Error {
  override name = 'TokenError'
}

/** A request the gate refuses: its status, headers and the one sentence it answers. */
export class AccessRefused extends Error {
  constructor(
    readonly statusCode: 400 | 401 | 403 | 405 | 421,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/**
 * A 401 for a credential that was presented and compared, and matched nothing: a guess.
 * The API paces these per client address (api.ts); a refusal for a missing credential is a
 * plain AccessRefused, since it guesses nothing.
 */
export class WrongCredential extends AccessRefused {
  constructor(message: string) {
    super(401, message, { 'www-authenticate': `${REALM}, error="invalid_token"` })
  }
}

/**
 * The tokens in a token file's text: one a line; blank lines and lines starting with `#`
 * are skipped. `source` names the file in errors (`FILE line N: …`).
 */
export function parseTokens(text: string, source: string): string[] {
  const tokens: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    // `FILE line N`, not `FILE:N`: a file named token would read `token:3`, which the
    // redaction of every printed line takes for a credential and masks.
    checkToken(line, `${source} line ${i + 1}`)
    tokens.push(line)
  })
  if (tokens.length === 0)
    throw new TokenError(`${source} holds no token; write one a line, e.g. the output of "openssl rand -hex 32"`)
  return tokens
}

/** Reads a token file (see `parseTokens`); a missing or unreadable file is a TokenError. */
export function readTokenFile(file: string): string[] {
  let text: string
  try {
    text = readSmallFileSync(file).toString('utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new TokenError(
      code === 'ENOENT'
        ? `${file} does not exist; give the path of a file with one token a line`
        : `${file} cannot be read (${fileProblem(error)}); make it a regular file the monitor's user can read`,
    )
  }
  return parseTokens(text, file)
}

/** Throws unless `token` is usable as a bearer token; `where` (e.g. `FILE line N`) prefixes the message. */
export function checkToken(token: string, where?: string): void {
  const at = where ? `${where}: ` : ''
  if (!/^[\x21-\x7e]+$/.test(token))
    throw new TokenError(`${at}a token is one word of visible ASCII characters (no spaces), e.g. openssl rand -hex 32`)
  if (token.length < MIN_TOKEN_LENGTH)
    throw new TokenError(
      `${at}a token of ${token.length} characters is too easy to guess; use at least ${MIN_TOKEN_LENGTH}, e.g. openssl rand -hex 32`,
    )
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * A set of accepted tokens. Candidates are compared in constant time: both sides are
 * hashed to equal length and every token is compared, so neither a token's length nor how
 * much of it matched shows in the time of an answer.
 */
export class TokenSet {
  private readonly digests: Buffer[]

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest)
  }

  get size(): number {
    return this.digests.length
  }

  matches(candidate: string): boolean {
    const presented = digest(candidate)
    let found = false
    for (const d of this.digests) if (timingSafeEqual(d, presented)) found = true
    return found
  }
}

/**
 * `--auth-token-file`: read at start (a bad file refuses the start) and again by `reload()`,
 * which keeps the tokens it had when the file cannot be used.
 */
export class TokenFile {
  private current: TokenSet
  private readonly listeners = new Set<() => void>()

  constructor(readonly file: string) {
    this.current = new TokenSet(readTokenFile(file))
  }

  get tokens(): TokenSet {
    return this.current
  }

  /** Rereads the file; returns how many tokens it holds now. Throws (keeping the old ones) if unusable. */
  reload(): number {
    this.current = new TokenSet(readTokenFile(this.file))
    for (const listener of this.listeners) listener()
    return this.current.size
  }

  /** Calls `listener` after every successful reload (open streams re-authenticate); returns its removal. */
  onReload(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

// A check's tokens are hashed once per manifest load, not per push.
const checkTokenSets = new WeakMap<readonly string[], TokenSet>()
function tokenSetOf(tokens: readonly string[]): TokenSet {
  let set = checkTokenSets.get(tokens)
  if (!set) checkTokenSets.set(tokens, (set = new TokenSet(tokens)))
  return set
}

/** Whether a listen host reaches only this machine (so no credential is required). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return isIP(v4) === 4 && v4.startsWith('127.')
}

export interface AccessOptions {
  /** Tokens that may read and write everything; none means writes are open (loopback). */
  tokens?: TokenSet | TokenFile | undefined
  /** Reads need no credential even with `tokens` (writes still do). */
  publicRead?: boolean
  /** Host names (besides IP literals and localhost) the monitor answers to; `*.example.com` for a domain. */
  allowedHosts?: readonly string[]
  /** The host the listener is bound to; a name is allowed as a Host, as `allowedHosts` are. */
  listenHost?: string
}

/** What a route is to the gate: a dashboard file, the push endpoint, or anything else of the API. */
export type RouteClass = 'asset' | 'push' | 'api'

const REALM = 'Bearer realm="probekit monitor"'
const FILE_HINT = "a token from the monitor's --auth-token-file"

/** The gate every request of the monitor's listener passes before it is routed. */
export class Access {
  private readonly options: AccessOptions
  private readonly names: string[]

  constructor(options: AccessOptions = {}) {
    this.options = options
    const names = [...(options.allowedHosts ?? [])]
    if (options.listenHost && isIP(options.listenHost.replace(/^\[|\]$/g, '')) === 0) names.push(options.listenHost)
    this.names = names.map(normalizeName)
  }

  /** Whether a credential guards this listener (tokens are configured). */
  get guarded(): boolean {
    return this.tokens !== undefined
  }

  private get tokens(): TokenSet | undefined {
    const t = this.options.tokens
    return t instanceof TokenFile ? t.tokens : t
  }

  /**
   * Admits a request or throws AccessRefused: Host first (421), then for writes the
   * Origin (403), then the credential (401) — except for the push route, whose credential
   * `admitPush` decides once the check is known, and the dashboard's files, which are the
   * same public code in every install and hold no data (the token form needs them).
   */
  admit(req: IncomingMessage, route: RouteClass): void {
    this.checkHost(req)
    const write = !isRead(req.method)
    if (write) this.checkOrigin(req)
    if (route === 'push' || route === 'asset') return
    const tokens = this.tokens
    if (!tokens || (!write && this.options.publicRead)) return
    const bearer = bearerOf(req)
    if (bearer === undefined)
      throw new AccessRefused(
        401,
        `this monitor needs a credential: send "Authorization: Bearer TOKEN" with ${FILE_HINT}`,
        {
          'www-authenticate': REALM,
        },
      )
    if (!tokens.matches(bearer))
      throw new WrongCredential(`the bearer token is not one this monitor accepts; use ${FILE_HINT}`)
  }

  /**
   * The push route's credential: a global token (as a bearer token), or the check's own
   * secret (as a bearer token or `?token=`). `check` is undefined for a name no push check
   * has — answered 401 like a wrong token when a credential is needed, so names cannot be
   * probed. Returns whether the request carried a valid secret (a GET must, to change state).
   */
  admitPush(
    req: IncomingMessage,
    query: URLSearchParams,
    name: string,
    check: { tokens?: readonly string[] | undefined } | undefined,
  ): { secret: boolean } {
    const bearer = bearerOf(req)
    const inQuery = query.get('token') ?? undefined
    const global = this.tokens
    if (bearer !== undefined && global?.matches(bearer)) return { secret: true }
    const own = check?.tokens?.length ? tokenSetOf(check.tokens) : undefined
    if (own) {
      if (bearer !== undefined && own.matches(bearer)) return { secret: true }
      if (inQuery !== undefined && own.matches(inQuery)) return { secret: true }
    }
    if (!global && !own) return { secret: false }
    const shown = JSON.stringify(name)
    if (bearer === undefined && inQuery === undefined) {
      throw new AccessRefused(
        401,
        own
          ? `push check ${shown} needs its token: send "Authorization: Bearer TOKEN" or add ?token=TOKEN to the URL`
          : `pushing needs a credential: send "Authorization: Bearer TOKEN" with ${FILE_HINT}, or give the check a token in its manifest`,
        { 'www-authenticate': REALM },
      )
    }
    throw new WrongCredential(
      `that token does not speak for push check ${shown}; use the check's own token (manifest token or token_file) or ${FILE_HINT}`,
    )
  }

  /**
   * 421 unless the Host is an IP literal, localhost, the listen name or an allowed name;
   * 400 for a request with no Host, an empty one or two (RFC 9112 §3.2: a browser always
   * sends exactly one; `/livez` and `/readyz` are answered before this gate). A request
   * target in absolute form (`GET http://name/…`) is held to the same names.
   */
  private checkHost(req: IncomingMessage): void {
    const header = req.headers.host
    if (countHeader(req, 'host') > 1)
      throw new AccessRefused(400, 'a request has one Host header; this one has two or more')
    if (header === undefined || header.trim() === '')
      throw new AccessRefused(400, 'a request needs a Host header naming this monitor (HTTP/1.1 requires one)')
    this.checkName(header)
    const target = req.url ?? '/'
    if (!target.startsWith('/') && target !== '*') {
      let authority: string | undefined
      try {
        authority = new URL(target).host
      } catch {}
      if (!authority)
        throw new AccessRefused(400, `the request target ${JSON.stringify(target.slice(0, 100))} is not a path`)
      this.checkName(authority)
    }
  }

  private checkName(header: string): void {
    const name = hostnameOf(header)
    if (name !== undefined && this.knownName(name)) return
    const shown = JSON.stringify(header.slice(0, 100))
    throw new AccessRefused(
      421,
      `Host ${shown} is not a name of this monitor; if it is, start the monitor with --allowed-host ${name ?? 'NAME'} (unknown names are refused to stop DNS rebinding)`,
    )
  }

  private knownName(name: string): boolean {
    if (isIP(name) !== 0) return true
    if (name === 'localhost' || name.endsWith('.localhost')) return true
    return this.names.some((allowed) => matchesName(name, allowed))
  }

  /**
   * A browser names the page that sent a request in `Origin`; a write is accepted only from
   * the monitor's own origin as the browser saw it: the Origin's host and port are the
   * request's `Host` (which `checkHost` has already held to the monitor's names). The port
   * counts because every port of a host is another origin — another local app, a dev
   * server on `localhost:3000` — and a `<form enctype=text/plain>` or a no-cors `fetch`
   * from it would otherwise write. A `Host` without a port is the scheme's default, so
   * `monitor.example.com` is `http://monitor.example.com` or `https://monitor.example.com`
   * (a TLS proxy in front), never `:8080`. The listener itself speaks plain HTTP, so an
   * `https:` origin is a proxy's, accepted only under a name given to the monitor (the
   * listen name or `--allowed-host`). Tools such as curl send no Origin and are not affected.
   */
  private checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin
    if (origin === undefined) return
    if (this.isOwnOrigin(origin, req.headers.host ?? '')) return
    throw new AccessRefused(
      403,
      `a write from the web page at ${JSON.stringify(origin.slice(0, 200))} is refused; only the monitor's own pages may write from a browser, at the host and port the request is sent to (behind a proxy, pass the client's Host through and add --allowed-host for its name)`,
    )
  }

  private isOwnOrigin(origin: string, hostHeader: string): boolean {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false // `null` (a sandboxed page, a file), or not a URL at all
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
    const own = authorityOf(hostHeader)
    if (own === undefined) return false
    const name = normalizeName(url.hostname.replace(/^\[|\]$/g, ''))
    if (name !== own.name) return false
    // `URL` leaves `port` empty for the scheme's default, as a browser's Host leaves it out.
    const defaultPort = url.protocol === 'https:' ? 443 : 80
    if ((url.port === '' ? defaultPort : Number(url.port)) !== (own.port ?? defaultPort)) return false
    return url.protocol === 'http:' || this.names.some((allowed) => matchesName(name, allowed))
  }
}

function isRead(method: string | undefined): boolean {
  return method === undefined || method === 'GET' || method === 'HEAD'
}

/**
 * The token of an `Authorization: Bearer TOKEN` header; '' for another scheme (never
 * matches). Two Authorization headers are a 400: the field holds one credential (RFC 9110
 * §11.6.2), and Node would keep the first, where a proxy in front may have read the other.
 */
function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (header === undefined) return undefined
  if (countHeader(req, 'authorization') > 1)
    throw new AccessRefused(400, 'a request has one Authorization header; this one has two or more')
  const match = /^bearer +(\S+) *$/i.exec(header)
  return match ? (match[1] as string) : ''
}

/** How many times the request carries the header `name` (lower case). */
function countHeader(req: IncomingMessage, name: string): number {
  let count = 0
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === name) count++
  return count
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

/** Whether `name` is `allowed`, or under it when `allowed` is `*.domain`. */
function matchesName(name: string, allowed: string): boolean {
  return allowed.startsWith('*.') ? name.endsWith(allowed.slice(1)) : name === allowed
}

/** The host name of a Host header (`name`, `name:port`, `1.2.3.4:port`, `[::1]:port`), or undefined. */
function hostnameOf(header: string): string | undefined {
  return authorityOf(header)?.name
}

/** A Host header's host name and port (undefined when it names none), or undefined when it is neither. */
function authorityOf(header: string): { name: string; port: number | undefined } | undefined {
  const h = header.trim().toLowerCase()
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(h)
  if (v6) return isIP(v6[1] as string) === 6 ? { name: v6[1] as string, port: portOf(v6[2]) } : undefined
  const match = /^([a-z0-9._-]+)(?::(\d+))?$/.exec(h)
  return match ? { name: normalizeName(match[1] as string), port: portOf(match[2]) } : undefined
}

function portOf(digits: string | undefined): number | undefined {
  return digits === undefined ? undefined : Number(digits)
}
