/**
 * A call to a running monitor's HTTP API from the command line (`probekit inspect --api`,
 * `probekit silence`): the credential from `--token-file`, and one sentence for each way
 * it can fail (not reachable, no or a wrong token, an error answer, not JSON).
 */
import { resolve } from 'node:path'
import { redact, redactUrl } from '../core/redact.js'
import { isTlsNameError, isTlsTrustError } from '../probes/network-error.js'
import { UsageError } from './usage-error.js'

/** undici's fetch with a dispatcher that trusts `ca` alone (as curl's --cacert), and its close. */
async function trustingFetch(ca: string): Promise<{ fetch: typeof fetch; close(): Promise<void> }> {
  const undici = await import('undici')
  const dispatcher = new undici.Agent({ connect: { ca } })
  return {
    fetch: ((input: URL, init: RequestInit) =>
      undici.fetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch,
    close: () => dispatcher.destroy(),
  }
}

/**
 * The most of an answer read: far above a fleet's (50,000 checks whose outputs all hold 4 KB
 * make some 250 MB) and below the longest string V8 can make, past which `res.text()` of a
 * 2 GB answer (or a gzip bomb) aborted the whole process with a V8 fatal error.
 */
const MAX_ANSWER_BYTES = 500 * 1024 * 1024

/** The answer's body as text, within the call's deadline and `MAX_ANSWER_BYTES`, each failure in one sentence. */
async function readAnswer(res: Response, shown: string): Promise<string> {
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.byteLength
        if (size > MAX_ANSWER_BYTES) {
          throw new Error(
            `the monitor API at ${shown} answered more than ${MAX_ANSWER_BYTES / 1024 / 1024} MB; is --api the monitor's --listen address?`,
          )
        }
        chunks.push(chunk)
      }
    }
  } catch (error) {
    if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') {
      throw new Error(`the monitor API at ${shown} did not finish its answer within 10 s (${size} bytes came)`)
    }
    throw error
  }
  return Buffer.concat(chunks).toString('utf8')
}

export interface MonitorApiCall {
  method?: 'GET' | 'POST' | 'DELETE'
  /** A JSON body. */
  body?: unknown
  query?: Record<string, string | undefined>
  tokenFile?: string | undefined
  /**
   * A PEM CA to trust for an https:// API (`--ca-file`): a monitor behind a TLS proxy whose
   * certificate a private CA signed. Read with `readCaFileFlag`.
   */
  ca?: string | undefined
}

export async function callMonitorApi(base: string, path: string, call: MonitorApiCall = {}): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const { tokenFile } = call
  if (tokenFile !== undefined) {
    const { readTokenFile, TokenError } = await import('../monitor/auth.js')
    try {
      headers.authorization = `Bearer ${readTokenFile(resolve(tokenFile))[0]}`
    } catch (error) {
      if (error instanceof TokenError) throw new UsageError(`--token-file ${error.message}`)
      throw error
    }
  }
  let url: URL
  try {
    url = new URL(path, base)
  } catch {
    throw new UsageError(`--api ${JSON.stringify(redactUrl(base))} is not a URL; use e.g. http://127.0.0.1:8008`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--api ${JSON.stringify(redactUrl(base))} must start with http:// or https://`)
  }
  if (call.ca !== undefined && url.protocol !== 'https:') {
    throw new UsageError(
      `--ca-file is the CA for an https:// --api; ${JSON.stringify(redactUrl(base))} is plain HTTP (drop --ca-file, or write https://)`,
    )
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(
      `--api ${JSON.stringify(redactUrl(base))} holds a user or password; the monitor API takes a bearer token instead, read from a file with --token-file FILE`,
    )
  }
  for (const [name, value] of Object.entries(call.query ?? {}))
    if (value !== undefined) url.searchParams.set(name, value)
  if (call.body !== undefined) headers['content-type'] = 'application/json'
  const shown = redactUrl(new URL(base).origin)
  // Node's fetch trusts its own CA list (and NODE_EXTRA_CA_CERTS); a CA of the caller's
  // own goes through undici's, with a dispatcher that trusts it and is closed after.
  const trusted = call.ca !== undefined ? await trustingFetch(call.ca) : undefined
  let res: Response
  try {
    res = await (trusted?.fetch ?? fetch)(url, {
      method: call.method ?? 'GET',
      signal: AbortSignal.timeout(10_000),
      headers,
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
    })
  } catch (error) {
    await trusted?.close()
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    if (cause?.message === 'bad port') {
      throw new UsageError(
        `--api ${shown}: port ${url.port} is one fetch never connects to (it belongs to another protocol, as browsers have it); give the monitor another --listen port`,
      )
    }
    const reason =
      (error as Error).name === 'TimeoutError'
        ? 'no answer within 10 s'
        : cause?.code === 'ECONNREFUSED'
          ? 'connection refused'
          : (cause?.message ?? (error as Error).message)
    if (isTlsTrustError(cause)) {
      throw new Error(
        `cannot reach the monitor API at ${shown}: its certificate is not trusted: ${redactUrl(reason)}${call.ca !== undefined ? ' (not signed by the CA in --ca-file)' : '; if a private CA signed it, pass that CA with --ca-file FILE'}`,
      )
    }
    if (isTlsNameError(cause)) {
      throw new Error(`cannot reach the monitor API at ${shown}: ${redactUrl(reason)}`)
    }
    throw new Error(
      `cannot reach the monitor API at ${shown}: ${redactUrl(reason)}; is "probekit monitor" running and listening there?`,
    )
  }
  let text: string
  try {
    text = await readAnswer(res, shown)
  } finally {
    await trusted?.close()
  }
  if (res.status === 401) {
    throw new Error(
      tokenFile === undefined
        ? `the monitor API at ${shown} needs a token; pass --token-file FILE with one of the tokens in the monitor's --auth-token-file`
        : `the monitor API at ${shown} refused the token in --token-file ${tokenFile}; use one of the tokens in the monitor's --auth-token-file`,
    )
  }
  if (!res.ok) {
    // Redacted whole, then cut (a cut first could leave half a credential).
    let message = redact(text.trim()).slice(0, 300)
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message
    } catch {}
    throw new Error(`the monitor API at ${shown} answered ${res.status}: ${message}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new Error(`the monitor API at ${shown} did not answer JSON; is --api the monitor's --listen address?`)
  }
}
