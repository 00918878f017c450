/**
 * Credentials never leave probekit: every reason, log line, report, CLI line and stored
 * result passes through `redact`. Redaction is textual so it also catches secrets that a
 * driver embeds in its own error messages, and it runs on whole texts, before anything is
 * cut to a size: a cut first could leave `postgres://u:hunter` that no pattern recognises.
 *
 * Two kinds of masking: by pattern (URL userinfo, `password=…`, `Authorization: …`), and by
 * value, as CI systems mask their variables — secrets registered in a `SecretSet` (the
 * monitor registers every credential its manifests configure) are masked wherever they
 * appear, also when a target echoes them back.
 */

const MASK = '***'

/** Values shorter than this are not masked by value: they would mask ordinary words. */
export const MIN_SECRET_LENGTH = 4

// key=value and key: value pairs in connection strings, query strings, environment
// variables, messages and JSON (`"password": "…"`); a quoted value keeps its quotes. A key
// ends in one of the words (`access_token`, `DB_PASSWORD`, `PGPASSWORD`, `client_secret`):
// the long words may end any name, the short ones only a whole word or a part after `_`,
// `-` or `.` (`bypass: true` stays). No name prefix is matched, so a pattern attempt stays
// short on any text; what precedes the word is left as it is. An unquoted value ends before
// a colon that ends it (`…?token=abc: 500 Internal Server Error`: the colon is the message's).
const secretPair =
  /((?:password|passwd|secret|token)|(?<![A-Za-z0-9])(?:pass|pwd|pw|api[_-]?key|access[_-]?key|private[_-]?key|secret[_-]?key))(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'")]+?(?=:?(?:[\s&;,'")]|$)))/gi
/** Every key `secretPair` matches contains one of these (lower case). */
const SECRET_PAIR_WORDS = ['pass', 'pw', 'secret', 'token', 'key']
// Authorization headers echoed into messages (also as JSON: `"authorization": "Basic …"`).
const authorization =
  /\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(basic|bearer|digest|token)(\s+))?([^\s,;"']+)/gi

/** Header, variable and query parameter names whose values are credentials. */
export const SECRET_NAME = /auth|token|secret|key|pass|pwd|session|cookie|credential|signature|jwt|^sig$/i

/** Keys of an object whose values are secrets (thrown plain objects, manifest fields). */
export const SECRET_KEY =
  /passw|^pass$|pwd|secret|token|authorization|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credential|cookie/i

/**
 * Literal secrets masked by value. A set only grows: a secret that was ever configured
 * stays masked for as long as the process lives (stored results outlive their manifest).
 * Each set also masks the secrets of its parent (by default the process-wide set that
 * `addSecret` fills), so a per-monitor set never masks less than the global one.
 */
export class SecretSet {
  private readonly values = new Set<string>()
  private sorted: string[] | undefined
  /** The forms in a trie of 4-character chunks: one pass over a text finds them all. */
  private index: ChunkNode | undefined
  private readonly parent: SecretSet | undefined

  constructor(parent?: SecretSet | null) {
    this.parent = parent === null ? undefined : (parent ?? globalSecrets)
  }

  /** How many literal forms are masked (this set's own). */
  get size(): number {
    return this.values.size
  }

  /**
   * Grows whenever a secret is added to this set or a parent (sets only grow): a text
   * redacted at one version needs no redacting again while the version holds.
   */
  get version(): number {
    return this.values.size + (this.parent?.version ?? 0)
  }

  /**
   * Registers a secret and the forms it travels in: as is, percent-encoded (a URL),
   * JSON-escaped (an echoed JSON document). Values shorter than `MIN_SECRET_LENGTH` are ignored.
   */
  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return
    const forms = [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]
    for (const form of forms) {
      if (form.length < MIN_SECRET_LENGTH || this.values.has(form)) continue
      this.values.add(form)
      this.sorted = undefined
      this.index = undefined
    }
  }

  /** Registers a user and password as HTTP Basic sends them: the password, `user:password`, and its base64. */
  addBasic(user: string, password: string): void {
    this.add(password)
    if (!password) return
    const pair = `${user}:${password}`
    this.add(pair)
    this.add(Buffer.from(pair, 'utf8').toString('base64'))
  }

  /**
   * Registers the credentials of a URL: the userinfo password, `user:password` and its
   * base64 (what HTTP Basic sends), a lone userinfo token, and the values of query
   * parameters whose name says secret (`?token=…`, `?api_key=…`).
   */
  addUrl(text: string | URL): void {
    let url: URL
    try {
      url = typeof text === 'string' ? new URL(text) : text
    } catch {
      // libpq's postgres://user:pw@/db?host=/run/postgresql: its credentials are as secret.
      const read = typeof text === 'string' ? withEmptyHost(text) : undefined
      if (!read) return
      url = read
    }
    if (url.username || url.password) {
      const user = decodeLoose(url.username)
      const password = decodeLoose(url.password)
      if (password) {
        this.add(url.password)
        this.addBasic(user, password)
      } else if (TOKEN_SCHEMES.has(url.protocol.slice(0, -1).toLowerCase())) {
        this.add(user) // a lone token: https://TOKEN@host
      }
      // Elsewhere a lone userinfo is a user name (postgres://app@db/app): masking it would
      // mask every word that spells it, the scheme and the database name too.
    }
    for (const [name, value] of url.searchParams) if (SECRET_NAME.test(name)) this.add(value)
  }

  /**
   * Registers the values of request headers whose name says secret (`Authorization`,
   * `Proxy-Authorization`, `Cookie`, `X-Api-Key`, and any name holding auth, token, secret,
   * key, pass, session, cookie, credential or signature), with their credential part
   * (`Bearer X` → `X`) and, for Basic, the decoded `user:password` and password. Other
   * headers (`Accept`, `Host`, `X-Tenant`) are not secrets: masking them would garble output.
   */
  addHeaders(headers: Record<string, string> | undefined): void {
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (typeof value !== 'string' || !SECRET_NAME.test(name)) continue
      this.add(value)
      const match = /^\s*([A-Za-z][\w-]*)\s+(\S+)\s*$/.exec(value)
      if (!match) continue
      const credentials = match[2] as string
      this.add(credentials)
      if ((match[1] as string).toLowerCase() !== 'basic') continue
      const decoded = Buffer.from(credentials, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon >= 0) this.addBasic(decoded.slice(0, colon), decoded.slice(colon + 1))
    }
  }

  /** Every literal form this set and its parents mask, longest first (a secret inside another is masked whole). */
  forms(): string[] {
    if (!this.sorted) this.sorted = [...this.values].sort((a, b) => b.length - a.length)
    const own = this.sorted
    const inherited = this.parent ? this.parent.forms() : []
    if (inherited.length === 0) return own
    if (own.length === 0) return inherited
    return [...own, ...inherited].sort((a, b) => b.length - a.length)
  }

  /**
   * `text` with every registered secret replaced by `***` (the longest one where several
   * start at the same place). One pass over the text, however many secrets a fleet's
   * manifests hold: a monitor masks every output of every check.
   */
  mask(text: string): string {
    if (!text) return text
    const masked = this.values.size === 0 ? text : this.maskOwn(text)
    return this.parent ? this.parent.mask(masked) : masked
  }

  private maskOwn(text: string): string {
    const root = this.buildIndex()
    let out = ''
    let from = 0
    for (let i = 0; i + CHUNK <= text.length; ) {
      const hit = longestAt(root, text, i)
      if (hit) {
        out += `${text.slice(from, i)}${MASK}`
        i += hit.length
        from = i
      } else i++
    }
    return from === 0 ? text : out + text.slice(from)
  }

  private buildIndex(): ChunkNode {
    if (this.index) return this.index
    const root: ChunkNode = { forms: [] }
    for (const form of this.values) {
      let node = root
      let depth = 0
      // Descend one chunk at a time while a whole chunk of the form is left.
      while (form.length - depth >= CHUNK) {
        node.children ??= new Map()
        const key = chunkHash(form, depth)
        let child = node.children.get(key)
        if (!child) node.children.set(key, (child = { forms: [] }))
        node = child
        depth += CHUNK
      }
      node.forms.push(form)
    }
    this.index = root
    return root
  }

  /** `redact(text)` with this set's secrets masked too. */
  redact(text: string): string {
    return redact(text, this)
  }
}

/** The process-wide set: what `addSecret` registers, masked by every `redact`. */
const globalSecrets = new SecretSet(null)

/** The process-wide set's `version`: it grows whenever a secret is registered with `addSecret` or its kin. */
export function globalSecretsVersion(): number {
  return globalSecrets.version
}

/** Registers a literal secret (e.g. a password from the environment) to be masked everywhere. */
export function addSecret(secret: string): void {
  globalSecrets.add(secret)
}

/** Registers a URL's credentials (see `SecretSet.addUrl`) to be masked everywhere in this process. */
export function addUrlSecrets(url: string | URL): void {
  globalSecrets.addUrl(url)
}

/** Registers secret request headers' values (see `SecretSet.addHeaders`) to be masked everywhere in this process. */
export function addHeaderSecrets(headers: Record<string, string> | undefined): void {
  globalSecrets.addHeaders(headers)
}

/**
 * Returns `text` with every credential replaced by `***`: URL userinfo passwords (and, by
 * value, wherever else the text repeats them), the secrets of `secrets` (default: those
 * registered with `addSecret`) by value, then `key=value` secrets (`DB_PASSWORD=…`,
 * `?access_token=…`, `pw=…`) and `Authorization` values by pattern. Linear in the length of
 * `text`.
 */
export function redact(text: string, secrets: SecretSet = globalSecrets): string {
  if (!text) return text
  // Userinfo first, so `postgres://app:***@db` keeps its user even when `app:password` is a
  // registered form; then values, before the patterns could split a secret (`a&b`) in two.
  let out = text.includes('://') ? maskUserinfo(text, false) : text
  out = secrets.mask(out)
  // Both patterns need a word that a text without secrets rarely holds: look for it first,
  // so most texts (a status line, a reason) never run, or compile, the patterns at all.
  const lower = out.toLowerCase()
  if (SECRET_PAIR_WORDS.some((word) => lower.includes(word))) {
    out = out.replace(secretPair, (match, key: string, sep: string, value: string, at: number, whole: string) =>
      // MySQL's "Access denied … (using password: YES)" says whether one was sent, not what it is.
      (value === 'YES' || value === 'NO') && whole[at + match.length] === ')' ? match : `${key}${sep}${quoted(value)}`,
    )
  }
  if (lower.includes('authorization')) {
    out = out.replace(authorization, (_m, key: string, scheme: string | undefined, space: string) =>
      scheme ? `${key}${scheme}${space}${MASK}` : `${key}${MASK}`,
    )
  }
  return out
}

/**
 * Redacts a text that was cut before it could be redacted whole (a body read up to a bound,
 * the tail of a stream): besides `redact`, the fragment at the cut may be the beginning
 * (`end` cut) or the end (`start` cut) of a credential, so it is masked too — a URL
 * authority running into the cut, a prefix or suffix of a registered secret, and the
 * partial word at the cut.
 */
export function redactCut(text: string, cut: { start?: boolean; end?: boolean }, secrets?: SecretSet): string {
  if (!text) return text
  const set = secrets ?? globalSecrets
  let out = text
  if (cut.end) out = maskAtEnd(out, set)
  if (cut.start) out = maskAtStart(out, set)
  out = redact(out, set)
  if (cut.end && out.includes('://')) out = maskUserinfo(out, true)
  return out
}

/** How far from a cut a partial word is looked for. */
const CUT_WORD = 256

function maskAtEnd(text: string, secrets: SecretSet): string {
  // A registered secret cut short: the longest tail of the text that starts one.
  let keep = text.length
  for (const form of secrets.forms()) {
    const last = text.charCodeAt(text.length - 1)
    for (let k = Math.min(form.length - 1, text.length); k > 0 && text.length - k < keep; k--) {
      if (form.charCodeAt(k - 1) === last && text.endsWith(form.slice(0, k))) {
        keep = text.length - k
        break
      }
    }
  }
  // The partial word at the cut: whatever it was, it was not seen whole.
  let i = keep
  while (i > 0 && keep - i < CUT_WORD && !isSpace(text.charCodeAt(i - 1))) i--
  if (keep - i < CUT_WORD) keep = i
  return keep < text.length ? `${text.slice(0, keep)}…` : text
}

function maskAtStart(text: string, secrets: SecretSet): string {
  let skip = 0
  for (const form of secrets.forms()) {
    const first = text.charCodeAt(0)
    for (let k = Math.min(form.length - 1, text.length); k > skip; k--) {
      if (form.charCodeAt(form.length - k) === first && text.startsWith(form.slice(form.length - k))) {
        skip = k
        break
      }
    }
  }
  let i = skip
  while (i < text.length && i - skip < CUT_WORD && !isSpace(text.charCodeAt(i))) i++
  if (i - skip < CUT_WORD) skip = i
  return skip > 0 ? `…${text.slice(skip)}` : text
}

/** A URL with its password (and secret query parameters) masked, for display. */
export function redactUrl(url: string | URL, secrets?: SecretSet): string {
  return redact(typeof url === 'string' ? maskMalformedUserinfo(url) : url.href, secrets)
}

/**
 * A URL no parser reads, or reads otherwise, because its password holds a raw `/`, `?`, `#` or `@`
 * (`postgres://u:ab/c?d@host/db`) ends its authority early, so the password would show:
 * in a URL that does not parse, everything from the user's colon to the last `@` is masked.
 * The last `@` of the whole text, not of the authority as a parser would cut it: a raw `?`
 * or `#` in the password would otherwise end the search before the password does. A query
 * holding an `@` is masked with it, which hides more of a broken URL than needed, never less.
 * A colon followed by a port (`host:99999/path`) is no password. The text is one URL (its
 * callers pass a target as given): a space in it is a raw one in the URL.
 */
function maskMalformedUserinfo(text: string): string {
  const start = text.indexOf('://')
  if (start < 0) return text
  const from = start + 3
  // The user: up to the first colon, with nothing before it that would end an authority.
  const userEnd = text.slice(from).search(/[:/?#@]/)
  if (userEnd < 0 || text[from + userEnd] !== ':') return text
  const colon = from + userEnd
  const at = text.lastIndexOf('@')
  if (at < colon || /^\d{1,5}(?:[/?#]|$)/.test(text.slice(colon + 1))) return text
  // A URL that parses, with one @: its password is the parser's, masked by `redact`. One
  // that parses with an @ further on (`redis://:p@ss/w?rd#1@host`: the password `p`, the
  // host `ss`) may be a password holding @ / ? #, written raw: masked to the last @ too.
  // So is one holding a raw space or tab, which parses (encoded) but ends a URL in `redact`,
  // as in free text: `amqp://app:pa ss@mq` showed the password whole.
  if (text.indexOf('@', colon) === at && !/\s/.test(text.slice(colon, at)) && URL.canParse(text)) return text
  return `${text.slice(0, colon + 1)}${MASK}${text.slice(at)}`
}

/**
 * Renders any thrown value as one text with secrets masked: an object's keys that name a
 * secret (password, token, secret, authorization, api-key, … at any depth) are masked
 * before it is serialised, so `throw { password: 'hunter2', host: 'db' }` reads
 * `{"password":"***","host":"db"}`. The result still goes through `redact`.
 */
export function renderValue(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return String(value)
  if (typeof value !== 'object') return typeof value === 'symbol' ? value.toString() : String(value)
  const seen = new WeakSet<object>()
  try {
    const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
      if (key && SECRET_KEY.test(key) && v !== null && v !== undefined && v !== '') return MASK
      if (typeof v === 'bigint') return v.toString()
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]'
        seen.add(v)
      }
      return v
    })
    return text ?? Object.prototype.toString.call(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/**
 * A node of the secrets' trie: the forms stored here end less than one chunk below it,
 * and every form under it starts with the same chunks (by hash; a match is confirmed by
 * comparing). Secrets that share a long prefix (JWTs, `Bearer …`) only make it deeper.
 */
interface ChunkNode {
  forms: string[]
  children?: Map<number, ChunkNode>
}

const CHUNK = MIN_SECRET_LENGTH

function chunkHash(text: string, at: number): number {
  let h = 0
  for (let k = 0; k < CHUNK; k++) h = (h * 31 + text.charCodeAt(at + k)) | 0
  return h
}

/** The longest form that starts at `at` in `text`, if any. */
function longestAt(root: ChunkNode, text: string, at: number): string | undefined {
  let node: ChunkNode | undefined = root
  let depth = 0
  let best: string | undefined
  while (node?.children && at + depth + CHUNK <= text.length) {
    node = node.children.get(chunkHash(text, at + depth))
    if (!node) break
    depth += CHUNK
    for (const form of node.forms) {
      if ((!best || form.length > best.length) && text.startsWith(form, at)) best = form
    }
  }
  return best
}

/**
 * What is wrong with the percent-encoding of a URL's user name or password (`%zz`, a lone
 * `%`), said so that the fix is plain; undefined when both decode. Every URL a probe, a
 * check or a store takes is asked this when it is made, so that a bad escape is a clear
 * error then, not "URI malformed" (or a crash) when the check connects.
 */
export function userinfoEscapeProblem(url: URL): string | undefined {
  for (const [part, text] of [
    ['user name', url.username],
    ['password', url.password],
  ] as const) {
    try {
      decodeURIComponent(text)
    } catch {
      return `the ${part} has a malformed %-escape; write a literal % as %25`
    }
  }
  return undefined
}

/**
 * A URL with user info before an empty host (`postgres://user:pw@/db?host=/run/postgresql`),
 * which WHATWG URLs refuse, read with `localhost` as its host; undefined for any other text.
 */
export function withEmptyHost(text: string): URL | undefined {
  const empty = /^([A-Za-z][\w+.-]*:\/\/[^/?#@]*@)([/?#].*)?$/.exec(text)
  if (!empty) return undefined
  try {
    return new URL(`${empty[1]}localhost${empty[2] ?? ''}`)
  } catch {
    return undefined
  }
}

/** A URL part percent-decoded, or as it is when it is not valid percent-encoding. */
export function decodeLoose(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

function quoted(value: string): string {
  const q = value[0]
  return (q === '"' || q === "'") && value.length >= 2 && value.endsWith(q) ? `${q}${MASK}${q}` : MASK
}

// Schemes where a lone token in the userinfo (https://TOKEN@host) is a credential.
const TOKEN_SCHEMES = new Set(['http', 'https', 'redis', 'rediss', 'ws', 'wss', 'nats', 'tls'])

/** A userinfo password longer than this is not a password: it is not masked by value elsewhere. */
const MAX_FOUND_SECRET = 1024

/**
 * Masks the password of every `scheme://user:password@host`, taking the LAST `@` before
 * the host, so passwords holding `@` or `:` are masked whole. Before any `@`, a `?` or `#`
 * after the colon is part of the password too (`amqp://u:pa#ss@mq`), unless the colon
 * starts a port (`https://h:8443?mail=a@b` keeps its query). A hand-written scan, not a
 * regular expression: one pass over the text whatever it holds. With `toEnd`, an authority
 * that runs into the end of the text (a cut) is masked whole after its scheme.
 *
 * A password found so (or a lone token) is masked by value in the rest of the text too, as
 * drivers quote it again (`… and again s3cret`), but not in the user names before a colon:
 * `amqp://guest:guest@mq` keeps its user.
 */
function maskUserinfo(text: string, toEnd: boolean): string {
  // The text cut at each userinfo: text, masked userinfo, text, …, text.
  let parts: string[] | undefined
  let found: SecretSet | undefined
  let from = 0
  let i = text.indexOf('://')
  while (i !== -1) {
    const start = i + 3
    let end = start
    let lastAt = -1
    let firstColon = -1
    let portSoFar = false // the characters after the first colon are all digits so far
    for (; end < text.length; end++) {
      const c = text.charCodeAt(end)
      if (c === 0x2f || isSpace(c)) break // a slash or a space
      if (c === 0x3f || c === 0x23) {
        // ? or #: a query or fragment, unless it comes in a password (after a colon that
        // starts no port, before any @).
        if (lastAt >= 0 || firstColon < 0 || (portSoFar && end > firstColon + 1)) break
        portSoFar = false
      } else if (c === 0x40) {
        lastAt = end // @
      } else if (c === 0x3a && firstColon < 0) {
        firstColon = end
        portSoFar = true
      } else if (portSoFar && (c < 0x30 || c > 0x39)) {
        portSoFar = false
      }
    }
    const scheme = schemeBefore(text, i)
    if (scheme) {
      if (lastAt >= 0) {
        const userinfo = text.slice(start, lastAt)
        const colon = userinfo.indexOf(':')
        let masked = userinfo
        let secret = ''
        if (colon >= 0) {
          secret = userinfo.slice(colon + 1)
          masked = `${userinfo.slice(0, colon)}:${secret ? MASK : ''}`
        } else if (userinfo.length >= 16 && TOKEN_SCHEMES.has(scheme.toLowerCase())) {
          secret = userinfo
          masked = MASK
        }
        if (secret.length >= MIN_SECRET_LENGTH && secret.length <= MAX_FOUND_SECRET) {
          found ??= new SecretSet(null)
          found.add(secret)
          found.add(decodeLoose(secret))
        }
        parts ??= []
        parts.push(text.slice(from, start), masked)
        from = lastAt
      } else if (toEnd && end === text.length && end > start) {
        parts ??= []
        parts.push(text.slice(from, start), '…')
        from = end
      }
    }
    i = end >= text.length ? -1 : text.indexOf('://', end)
  }
  if (!parts) return text
  parts.push(text.slice(from))
  if (found) for (let k = 0; k < parts.length; k += 2) parts[k] = found.mask(parts[k] as string)
  return parts.join('')
}

/** The URL scheme that ends at `at` (the index of `://`), or '' if none. */
function schemeBefore(text: string, at: number): string {
  let s = at
  while (s > 0 && at - s < 32 && isSchemeChar(text.charCodeAt(s - 1))) s--
  if (s === at) return ''
  // A scheme starts with a letter, and not in the middle of a longer word.
  while (s < at && !isLetter(text.charCodeAt(s))) s++
  return text.slice(s, at)
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)
}

function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e
}

function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d)
  if (c < 0xa0) return false
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}
