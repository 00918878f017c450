/**
 * PostgreSQL's frontend/backend protocol (version 3.0), just enough for the URL mode of the
 * postgres and migrations probes: SSLRequest per `sslmode`, StartupMessage, trust,
 * cleartext, MD5 and SCRAM-SHA-256 authentication, one simple Query with its rows as text,
 * and Terminate. The `pg` driver costs more to load than a check takes (`probekit check
 * postgres://…` spent most of its start-up there), and an app's own Pool, Client or
 * postgres.js is still checked through the app's driver.
 *
 * node:crypto loads only when the server asks for MD5 or SCRAM, node:tls only for SSL.
 * Not spoken: GSSAPI, SSPI and Kerberos authentication, GSS encryption, channel binding
 * (SCRAM-SHA-256-PLUS), and the extended query protocol.
 */
import type { ConnectionOptions } from 'node:tls'
import { lineSafe } from '../core/inert.js'
import { decodeLoose, redact, redactUrl, userinfoEscapeProblem } from '../core/redact.js'
import { socketPathProblem } from './network-error.js'
import { writtenAs } from './pg-url.js'
import { type SocketExchangeOptions, socketExchange } from './socket.js'

/** libpq's SSL modes. `allow` reads as `prefer`; `no-verify` (the `pg` driver's) as `require`. */
export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

const SSL_MODES: Record<string, SslMode> = {
  disable: 'disable',
  allow: 'prefer',
  prefer: 'prefer',
  require: 'require',
  'no-verify': 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
}

/** Where and how to connect, from a `postgres://` URL. */
export interface PgTarget {
  host: string
  port: number
  /**
   * The server's Unix-domain socket, `DIR/.s.PGSQL.PORT`, when the host is a directory
   * (`?host=/run/postgresql`, or `%2Frun%2Fpostgresql` as the host); then `host` is that
   * directory and the connection is plain, as libpq makes it.
   */
  socketPath?: string
  user: string
  password: string | undefined
  database: string
  applicationName: string
  sslmode: SslMode
  /** Paths of PEM files (`sslrootcert`, `sslcert`, `sslkey`), read at each connection. */
  sslrootcert: string | undefined
  sslcert: string | undefined
  sslkey: string | undefined
  /** Trusted CA certificates (PEM) when the URL has no `sslrootcert` (the probe's `ca`, `--ca`). */
  ca?: string | Buffer
  /** No certificate check (the probe's `insecure`, `--insecure`): verify-ca and verify-full act as require. */
  insecure?: boolean
}

/**
 * Reads a `postgres://` URL the way the `pg` driver does: a missing user, password, database
 * or sslmode comes from PGUSER (then USER), PGPASSWORD, PGDATABASE (then the user) and
 * PGSSLMODE. Without any sslmode the connection is plain, as with `pg` (libpq would try SSL
 * first). As in libpq, the parameters `host`, `port`, `user`, `password` and `dbname` win
 * over the URL's parts, and a host that is a directory names a Unix-domain socket. Throws a TypeError naming the fix for what it cannot do.
 */
export function pgTarget(url: URL, env: NodeJS.ProcessEnv = process.env): PgTarget {
  const shown = redactUrl(writtenAs(url))
  const params = url.searchParams
  const badEscape = userinfoEscapeProblem(url)
  if (badEscape) throw new TypeError(`postgres: "${shown}": ${badEscape}`)
  const host = pgHost(url)
  if (host.includes(',')) {
    throw new TypeError(
      `postgres: "${shown}" names several hosts (${lineSafe(host.slice(0, 200))}); a probe checks one: write one probe per host`,
    )
  }
  const portText = params.get('port') || url.port || '5432'
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0
  if (port < 1 || port > 65535) {
    throw new TypeError(
      `postgres: "${shown}" has port ${JSON.stringify(portText.slice(0, 40))}; use a number from 1 to 65535`,
    )
  }
  const user = params.get('user') || decodeLoose(url.username) || env.PGUSER || env.USER || 'postgres'
  const database = params.get('dbname') || decodeLoose(url.pathname.slice(1)) || env.PGDATABASE || user
  const password =
    params.get('password') || (url.password ? decodeLoose(url.password) : undefined) || env.PGPASSWORD || undefined
  let mode = params.get('sslmode') ?? undefined
  const ssl = params.get('ssl')
  if (mode === undefined && ssl !== null) mode = /^(true|1|on)$/i.test(ssl) ? 'verify-full' : 'disable'
  if (mode === undefined && (params.has('sslrootcert') || params.has('sslcert'))) mode = 'verify-full'
  mode ??= env.PGSSLMODE || 'disable'
  const sslmode = Object.hasOwn(SSL_MODES, mode) ? SSL_MODES[mode] : undefined
  if (!sslmode) {
    throw new TypeError(
      `postgres: "${shown}" has sslmode=${JSON.stringify(mode).slice(1, -1)}; use disable, prefer, require, verify-ca or verify-full`,
    )
  }
  const socketDir = host.startsWith('/') ? host : undefined
  const socketPath = socketDir ? `${socketDir === '/' ? '' : socketDir}/.s.PGSQL.${port}` : undefined
  const tooLong = socketPath && socketPathProblem(socketPath)
  if (tooLong) throw new TypeError(`postgres: "${shown}": ${tooLong}`)
  return {
    host: host || 'localhost',
    port,
    ...(socketPath ? { socketPath } : {}),
    user,
    password,
    database,
    applicationName: params.get('application_name') || 'probekit',
    // libpq speaks SSL over TCP only: over a Unix-domain socket every sslmode connects plain.
    sslmode: socketDir ? 'disable' : sslmode,
    sslrootcert: params.get('sslrootcert') || undefined,
    sslcert: params.get('sslcert') || undefined,
    sslkey: params.get('sslkey') || undefined,
  }
}

/**
 * Where a URL says to connect: its `host` parameter, else its host (`%2Frun%2Fpostgresql`
 * decoded to a directory), '' for none. IPv6 brackets and a directory's trailing slash removed.
 */
export function pgHost(url: URL): string {
  const host = url.searchParams.get('host') || decodeLoose(url.hostname.replace(/^\[(.*)\]$/, '$1'))
  // A directory's trailing slashes, as in /run/postgresql/.
  return host.startsWith('/') ? host.replace(/(.)\/+$/, '$1') : host
}

/** A row as the `pg` driver gives it with its default parsers for the types probes read. */
export type PgRow = Record<string, unknown>

export interface PgQueryOptions {
  /** The prefix of every reason, e.g. `postgres 10.0.0.5:5432/app`. */
  what: string
  /** The connect limit: connecting, SSL and authentication, up to the server being ready for the query. */
  limitMs: number
  signal: AbortSignal
}

/** The longest message accepted from the server; PostgreSQL's own are far shorter for a probe's queries. */
const MAX_MESSAGE_BYTES = 1024 * 1024
/** The most a whole conversation may receive (a migrations table's rows included). */
const MAX_TOTAL_BYTES = 32 * 1024 * 1024
/** A SCRAM iteration count beyond this is a server trying to burn the prober's CPU (PostgreSQL uses 4096). */
const MAX_SCRAM_ITERATIONS = 1_000_000
/** Message types a server sends to a frontend that uses only the simple query protocol. */
const SERVER_MESSAGES = new Set('RSKZENTDCIvA')

const NAME_HINT =
  'connect by a name the certificate holds, or lower sslmode to verify-ca (no host name check) or require (no verification)'
const TRUST_HINT =
  "trust the server's CA with sslrootcert=/path/to/ca.pem in the URL, or lower sslmode to verify-ca (no host name check) or require (no verification)"

/**
 * Connects, authenticates, runs `sql` with the simple query protocol and resolves with the
 * rows of its (last) result; the connection is closed on every outcome, the deadline and
 * the signal included.
 */
export function pgQuery(target: PgTarget, sql: string, options: PgQueryOptions): Promise<PgRow[]> {
  const { what, limitMs, signal } = options
  const exchange: SocketExchangeOptions = {
    host: target.host,
    port: target.port,
    ...(target.socketPath ? { path: target.socketPath } : {}),
    what,
    limitMs,
    signal,
    limitCovers: 'handshake',
    closedEarly: 'the server closed the connection',
  }
  let tls: ConnectionOptions | undefined
  if (target.sslmode !== 'disable') {
    try {
      tls = tlsOptions(target)
    } catch (error) {
      return Promise.reject(error)
    }
    exchange.tlsTrustHint = TRUST_HINT
    exchange.tlsNameHint = NAME_HINT
  } else exchange.greeting = startupMessage(target)
  let rows: PgRow[] = []
  return socketExchange(exchange, (c) => {
    let phase: 'ssl' | 'startup' | 'query' = 'startup'
    let pending: Buffer = Buffer.alloc(0)
    let received = 0
    let scram: Scram | undefined
    let fields: { name: string; type: number }[] = []
    const send = (message: Buffer) => c.socket.write(message)
    const startup = () => {
      phase = 'startup'
      send(startupMessage(target))
    }

    /** Handles one whole message; `c.settled` says when the exchange is over. */
    const handle = (type: string, body: Buffer) => {
      switch (type) {
        case 'R':
          return authenticate(body)
        case 'E':
          return c.fail(errorReason(errorFields(body), target, phase))
        case 'Z':
          if (phase === 'startup') {
            if (scram && !scram.verified) return c.fail('the server ended SCRAM authentication without proving itself')
            phase = 'query'
            c.connected()
            send(message('Q', cstring(sql)))
            return
          }
          send(TERMINATE)
          return c.done()
        case 'T':
          fields = rowDescription(body)
          rows = []
          return
        case 'D':
          if (phase !== 'query') return c.fail('not a PostgreSQL server (rows before the query)')
          rows.push(dataRow(body, fields))
          return
        default:
          // ParameterStatus, BackendKeyData, NoticeResponse, CommandComplete, EmptyQueryResponse,
          // NegotiateProtocolVersion, NotificationResponse: nothing a probe needs.
          return
      }
    }

    const authenticate = (body: Buffer) => {
      if (phase !== 'startup' || body.length < 4) return c.fail('not a PostgreSQL server (authentication out of place)')
      const code = body.readInt32BE(0)
      if (code === 0) {
        if (scram && !scram.verified) c.fail('the server ended SCRAM authentication without proving itself')
        return
      }
      if (code === 3 || code === 5 || code === 10) {
        if (target.password === undefined) {
          return c.fail(
            'the server asks for a password and the URL has none: put it in the URL after the user name and a colon, or set PGPASSWORD',
          )
        }
      }
      if (code === 3) return void send(message('p', cstring(target.password as string)))
      if (code === 5) {
        if (body.length < 8) return c.fail('not a PostgreSQL server (short MD5 salt)')
        return void send(
          message('p', cstring(md5Password(target.user, target.password as string, body.subarray(4, 8)))),
        )
      }
      if (code === 10) {
        const mechanisms = body.subarray(4).toString('utf8').split('\0').filter(Boolean)
        if (!mechanisms.includes('SCRAM-SHA-256')) {
          return c.fail(
            `the server offers only SASL ${mechanisms.map((m) => m.slice(0, 40)).join(', ') || 'mechanisms'} (the probe speaks SCRAM-SHA-256); pass a pg Pool`,
          )
        }
        scram = new Scram(target.password as string)
        const first = Buffer.from(scram.clientFirst(), 'utf8')
        const head = cstring('SCRAM-SHA-256')
        const length = Buffer.alloc(4)
        length.writeInt32BE(first.length)
        return void send(message('p', Buffer.concat([head, length, first])))
      }
      if (code === 11) {
        if (!scram) return c.fail('not a PostgreSQL server (SASL out of place)')
        const current = scram
        current.clientFinal(body.subarray(4).toString('utf8'), (error, final) => {
          if (c.settled) return
          if (error || final === undefined) return c.fail(error ?? 'SCRAM authentication failed')
          send(message('p', Buffer.from(final, 'utf8')))
        })
        return
      }
      if (code === 12) {
        if (!scram) return c.fail('not a PostgreSQL server (SASL out of place)')
        const problem = scram.verifyServer(body.subarray(4).toString('utf8'))
        if (problem) c.fail(problem)
        return
      }
      const names: Record<number, string> = { 2: 'Kerberos V5', 6: 'SCM credentials', 7: 'GSSAPI', 9: 'SSPI' }
      c.fail(
        `the server asks for ${names[code] ?? `authentication method ${code}`}, which the URL mode does not speak (it speaks trust, password, md5 and scram-sha-256); pass a pg Pool or Client`,
      )
    }

    return {
      connected() {
        c.socket.setNoDelay(true)
        // Plain: the startup message went out as the exchange's greeting.
        if (!tls) return
        phase = 'ssl'
        send(SSL_REQUEST)
      },
      data(chunk) {
        received += chunk.length
        if (received > MAX_TOTAL_BYTES) return c.fail(`the answer is larger than ${MAX_TOTAL_BYTES / 1024 / 1024} MiB`)
        if (phase === 'ssl') {
          const answer = String.fromCharCode(chunk[0] as number)
          if (answer === 'S') {
            // Anything after the 'S' would be read as if it came over TLS (CVE-2021-23214).
            if (chunk.length > 1) return c.fail('not a PostgreSQL server (data after the SSL answer)')
            phase = 'startup'
            return c.startTls(tls as ConnectionOptions, startup)
          }
          if (answer === 'N') {
            if (target.sslmode === 'prefer') return startup()
            return c.fail(`the server does not accept SSL connections (sslmode=${target.sslmode})`)
          }
          if (answer !== 'E') return c.fail(notPostgres(chunk))
          // A server too old for SSLRequest answers with an error message.
          phase = 'startup'
        }
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
        while (pending.length >= 5 && !c.settled) {
          const type = String.fromCharCode(pending[0] as number)
          const length = pending.readInt32BE(1)
          if (!SERVER_MESSAGES.has(type) || length < 4) return c.fail(notPostgres(pending))
          if (length > MAX_MESSAGE_BYTES) {
            return c.fail(
              `not a PostgreSQL server (a message of ${length} bytes, over the ${MAX_MESSAGE_BYTES} allowed)`,
            )
          }
          if (pending.length < length + 1) return
          const body = pending.subarray(5, length + 1)
          pending = pending.subarray(length + 1)
          try {
            handle(type, body)
          } catch {
            // A field that runs past its message (a RangeError from the reads): never a crash.
            return c.fail(`not a PostgreSQL server (a malformed ${JSON.stringify(type)} message)`)
          }
        }
      },
    }
  }).then(() => rows)
}

function tlsOptions(target: PgTarget): ConnectionOptions {
  const read = (what: string, path: string | undefined) => {
    if (path === undefined || (what === 'sslrootcert' && path === 'system')) return undefined
    try {
      return process.getBuiltinModule('node:fs').readFileSync(path)
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'error'
      throw new Error(`postgres: cannot read ${what}=${path} (${code})`)
    }
  }
  const ca = read('sslrootcert', target.sslrootcert) ?? target.ca
  const cert = read('sslcert', target.sslcert)
  const key = read('sslkey', target.sslkey)
  // As libpq: `require` with a root certificate verifies the chain like `verify-ca`.
  // `insecure` turns every check of the certificate off; TLS itself stays as sslmode says.
  const mode = target.insecure ? 'require' : target.sslmode === 'require' && ca ? 'verify-ca' : target.sslmode
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    rejectUnauthorized: mode === 'verify-ca' || mode === 'verify-full',
    ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  }
}

// --- messages ---------------------------------------------------------------------------

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4])

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf8')
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.write(type, 0, 'latin1')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

function startupMessage(target: PgTarget): Buffer {
  const pairs = ['user', target.user, 'database', target.database, 'application_name', target.applicationName]
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...pairs.map(cstring), Buffer.from([0])])
  const length = Buffer.alloc(4)
  length.writeInt32BE(body.length + 4)
  return Buffer.concat([length, body])
}

function rowDescription(body: Buffer): { name: string; type: number }[] {
  const count = body.readInt16BE(0)
  const fields: { name: string; type: number }[] = []
  let at = 2
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at)
    if (end < 0) break
    const name = body.toString('utf8', at, end)
    fields.push({ name, type: body.readInt32BE(end + 7) })
    at = end + 19
  }
  return fields
}

function dataRow(body: Buffer, fields: { name: string; type: number }[]): PgRow {
  const count = body.readInt16BE(0)
  const row: PgRow = {}
  let at = 2
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(at)
    at += 4
    const field = fields[i] ?? { name: `?column?${i}`, type: 25 }
    if (length < 0) {
      row[field.name] = null
      continue
    }
    row[field.name] = parseText(body.toString('utf8', at, at + length), field.type)
    at += length
  }
  return row
}

/** As `pg` parses them by default: bool, int2, int4, oid and floats; int8, numeric and the rest stay text. */
function parseText(text: string, type: number): unknown {
  if (type === 16) return text === 't'
  if (type === 21 || type === 23 || type === 26) return Number.parseInt(text, 10)
  if (type === 700 || type === 701) return Number.parseFloat(text)
  return text
}

// --- errors -----------------------------------------------------------------------------

function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>()
  let at = 0
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1)
    if (end < 0) break
    fields.set(String.fromCharCode(body[at] as number), body.toString('utf8', at + 1, end))
    at = end + 1
  }
  return fields
}

/** A server's text made inert and safe to show: no credentials, no terminal control, bounded. */
function inert(text: string): string {
  return lineSafe(redact(text).slice(0, 300))
}

function errorReason(fields: Map<string, string>, target: PgTarget, phase: string): string {
  const code = fields.get('C')
  const text = inert(fields.get('M') ?? '')
  if (code === undefined && !text) return `not a PostgreSQL server (an error with no SQLSTATE during ${phase})`
  let reason = sqlStateReason(code, text)
  if (code === '28000' && /no encryption/i.test(text) && target.sslmode === 'disable') {
    reason += '; the server requires SSL: add sslmode=require (or verify-full) to the URL'
  }
  return reason
}

/**
 * The words for a PostgreSQL error (SQLSTATE `code`, server message `text`), shared by the
 * URL mode and the app's drivers.
 */
export function sqlStateReason(code: string | undefined, text: string): string {
  if (code === '28P01' || code === '28000')
    return `authentication failed (${code}): ${text}; check the user and password`
  if (code === '3D000') return `${text} (3D000)`
  if (code === '57P03') return `the server is starting up or shutting down (57P03)${text ? `: ${text}` : ''}`
  if (code === '53300') return `too many connections (53300)${text ? `: ${text}` : ''}`
  return `${text || 'failed'}${code ? ` (${code})` : ''}`
}

function notPostgres(bytes: Buffer): string {
  return `not a PostgreSQL server (unexpected reply ${JSON.stringify(bytes.subarray(0, 24).toString('latin1'))})`
}

// --- authentication ---------------------------------------------------------------------

function crypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto')
}

/** `md5` + md5(md5(password + user) + salt), hex. */
function md5Password(user: string, password: string, salt: Buffer): string {
  const { createHash } = crypto()
  const inner = createHash('md5')
    .update(password + user, 'utf8')
    .digest('hex')
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner, 'latin1'), salt]))
    .digest('hex')}`
}

/** SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel binding, user name from the startup message. */
export class Scram {
  private readonly nonce: string
  private readonly clientFirstBare: string
  private serverSignature: Buffer | undefined
  verified = false

  constructor(private readonly password: string) {
    this.nonce = crypto().randomBytes(18).toString('base64')
    this.clientFirstBare = `n=*,r=${this.nonce}`
  }

  clientFirst(): string {
    return `n,,${this.clientFirstBare}`
  }

  /** From the server-first message, the client-final one (with the proof), computed off the event loop. */
  clientFinal(serverFirst: string, done: (error: string | undefined, final?: string) => void): void {
    const attributes = scramAttributes(serverFirst)
    const nonce = attributes.get('r')
    const salt = attributes.get('s')
    const iterations = Number(attributes.get('i'))
    if (!nonce?.startsWith(this.nonce) || nonce.length === this.nonce.length || !salt) {
      done('not a PostgreSQL server (a SCRAM challenge that does not answer the nonce)')
      return
    }
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_SCRAM_ITERATIONS) {
      done(`not a PostgreSQL server (a SCRAM iteration count of ${String(attributes.get('i')).slice(0, 20)})`)
      return
    }
    const { pbkdf2, createHmac, createHash } = crypto()
    pbkdf2(saslPrep(this.password), Buffer.from(salt, 'base64'), iterations, 32, 'sha256', (error, salted) => {
      if (error) return done(`SCRAM failed: ${error.message}`)
      const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest()
      const withoutProof = `c=biws,r=${nonce}`
      const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`
      const clientKey = hmac(salted, 'Client Key')
      const storedKey = createHash('sha256').update(clientKey).digest()
      const signature = hmac(storedKey, authMessage)
      const proof = Buffer.alloc(clientKey.length)
      for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number)
      this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage)
      done(undefined, `${withoutProof},p=${proof.toString('base64')}`)
    })
  }

  /** Checks the server-final message: undefined when the server proved it knows the password. */
  verifyServer(serverFinal: string): string | undefined {
    const attributes = scramAttributes(serverFinal)
    const error = attributes.get('e')
    if (error !== undefined) return `SCRAM authentication failed: ${inert(error)}`
    const v = attributes.get('v')
    if (!this.serverSignature || v === undefined) return 'not a PostgreSQL server (SCRAM final message out of place)'
    if (!this.serverSignature.equals(Buffer.from(v, 'base64'))) {
      return 'the server could not prove it knows the password (SCRAM server signature mismatch)'
    }
    this.verified = true
    return undefined
  }
}

function scramAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>()
  for (const part of text.split(',')) {
    if (part[1] === '=') attributes.set(part[0] as string, part.slice(2))
  }
  return attributes
}

// RFC 4013 (RFC 3454 C.1.2): non-ASCII spaces map to a space.
const isNonAsciiSpace = (c: number) =>
  c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200b) || c === 0x202f || c === 0x205f || c === 0x3000
// RFC 3454 B.1: characters mapped to nothing.
const isMappedToNothing = (c: number) =>
  c === 0xad ||
  c === 0x34f ||
  c === 0x1806 ||
  (c >= 0x180b && c <= 0x180d) ||
  c === 0x200c ||
  c === 0x200d ||
  c === 0x2060 ||
  (c >= 0xfe00 && c <= 0xfe0f) ||
  c === 0xfeff
// Prohibited output: controls, private use, lone surrogates, non-characters, unassigned code
// points, and the bidirectional and tagging controls of RFC 3454 C.8 and C.9.
const PROHIBITED =
  /\u0340|\u0341|[\p{Cc}\p{Co}\p{Cs}\p{Cn}\u200e\u200f\u202a-\u202e\u206a-\u206f\ufff9-\ufffd\u{e0001}\u{e0020}-\u{e007f}]/u

/**
 * SASLprep (RFC 4013) of a password, as PostgreSQL applies it: an ASCII password without
 * control characters is itself; a password that SASLprep cannot prepare is used as it is
 * (PostgreSQL does the same on its side, so either way both sides agree).
 */
export function saslPrep(password: string): string {
  if (/^[\u0020-\u007e]*$/.test(password)) return password
  let mapped = ''
  for (const char of password) {
    const code = char.codePointAt(0) as number
    if (isNonAsciiSpace(code)) mapped += ' '
    else if (!isMappedToNothing(code)) mapped += char
  }
  const prepared = mapped.normalize('NFKC')
  if (prepared === '' || PROHIBITED.test(prepared)) return password
  return prepared
}
