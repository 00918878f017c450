/**
 * The NATS client handshake, spoken directly for URL mode: INFO from the server, then
 * CONNECT and PING from us, and PONG (or -ERR) back. Owning the socket is what lets the
 * probe destroy it at the deadline; nats.js cannot cancel a connect in progress, and it
 * only half-closes a socket to a frozen server. The protocol is a few text lines, so
 * this needs no driver either.
 */
import { Socket } from 'node:net'
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { NotReady } from '../core/errors.js'
import { connectTimedOut } from './connect-timeout.js'
import { describeNetworkError, isTlsTrustError } from './network-error.js'
import { serverName } from './tls-options.js'

const MAX_BUFFER = 64 * 1024

export function natsHandshake(
  url: URL,
  what: string,
  limitMs: number,
  signal: AbortSignal,
  tls: ConnectionOptions = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const plain = new Socket()
    let socket: Socket | TLSSocket = plain
    let buffer = ''
    let sawInfo = false
    let settled = false
    const finish = (error?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      for (const s of new Set([plain, socket])) {
        s.removeAllListeners()
        s.on('error', () => {})
        s.destroy()
      }
      if (error === undefined) resolve()
      else reject(error)
    }
    const onAbort = () => finish(signal.reason)
    const timer = setTimeout(() => finish(connectTimedOut(what, limitMs)), limitMs)
    signal.addEventListener('abort', onAbort, { once: true })

    const onError = (error: Error) => {
      const reason = describeNetworkError(error)
      const hint = isTlsTrustError(error) ? "; trust the server's CA with the ca option, or set insecure" : ''
      finish(new NotReady(`${what}: ${reason}${hint}`))
    }
    const onClose = () => finish(new NotReady(`${what}: the server closed the connection during the handshake`))
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      if (buffer.length > MAX_BUFFER) return finish(new NotReady(`${what}: not a NATS server (oversized greeting)`))
      let newline = buffer.indexOf('\r\n')
      while (newline >= 0 && !settled) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 2)
        handle(line)
        newline = buffer.indexOf('\r\n')
      }
      if (!sawInfo && buffer.length > 0 && !'INFO '.startsWith(buffer.slice(0, 5)) && !buffer.startsWith('INFO ')) {
        finish(notNats(buffer))
      }
    }
    const notNats = (text: string) =>
      new NotReady(`${what}: not a NATS server (it greeted with ${JSON.stringify(printable(text.slice(0, 40)))})`)

    const handle = (line: string) => {
      if (!sawInfo) {
        if (!line.startsWith('INFO ')) return finish(notNats(line))
        sawInfo = true
        let info: { tls_required?: boolean; auth_required?: boolean }
        try {
          info = JSON.parse(line.slice(5)) as typeof info
        } catch {
          return finish(notNats(line))
        }
        if (info.tls_required || url.protocol === 'tls:') return upgrade()
        return sendConnect()
      }
      if (line === 'PONG') return finish()
      if (line === 'PING') return void socket.write('PONG\r\n')
      if (line.startsWith('-ERR')) {
        const message = line.slice(4).trim().replace(/^'|'$/g, '')
        if (/authori[sz]ation|authentication|user/i.test(message)) {
          return finish(new NotReady(`${what}: authentication failed (${message}): check the user and password`))
        }
        return finish(new NotReady(`${what}: the server refused the connection (${message})`))
      }
      // +OK and INFO updates need no answer.
    }

    const sendConnect = () => {
      const fields: Record<string, unknown> = {
        verbose: false,
        pedantic: false,
        name: 'probekit',
        lang: 'node',
        version: '1',
        protocol: 1,
        echo: false,
      }
      if (url.username && url.password) {
        fields.user = decodeURIComponent(url.username)
        fields.pass = decodeURIComponent(url.password)
      } else if (url.username) fields.auth_token = decodeURIComponent(url.username)
      socket.write(`CONNECT ${JSON.stringify(fields)}\r\nPING\r\n`)
    }

    const upgrade = () => {
      plain.removeListener('data', onData)
      const secure = tlsConnect({ ...tls, socket: plain, host, ...serverName(host) })
      socket = secure
      secure.on('error', onError)
      secure.on('close', onClose)
      secure.on('data', onData)
      secure.once('secureConnect', sendConnect)
    }

    plain.on('error', onError)
    plain.on('close', onClose)
    plain.on('data', onData)
    plain.connect({ host, port: Number(url.port) || 4222 })
  })
}

/** An excerpt of what the peer sent, control and non-ASCII bytes as dots: one safe line. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '.')
}
