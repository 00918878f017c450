/**
 * The NATS client handshake, spoken directly for URL mode: INFO from the server, then
 * CONNECT and PING from us, and PONG (or -ERR) back. Owning the socket is what lets the
 * probe destroy it at the deadline; nats.js cannot cancel a connect in progress, and it
 * only half-closes a socket to a frozen server. The protocol is a few text lines, so
 * this needs no driver either.
 */
import type { ConnectionOptions } from 'node:tls'
import { decodeLoose } from '../core/redact.js'
import { printable } from './network-error.js'
import { type SocketExchangeOptions, socketExchange } from './socket.js'

const MAX_BUFFER = 64 * 1024

export function natsHandshake(
  url: URL,
  what: string,
  limitMs: number,
  signal: AbortSignal,
  tls: ConnectionOptions = {},
): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const options: SocketExchangeOptions = {
    host,
    port: Number(url.port) || 4222,
    what,
    limitMs,
    signal,
    limitCovers: 'handshake',
    tlsTrustHint: "trust the server's CA with the ca option, or set insecure",
    closedEarly: 'the server closed the connection during the handshake',
  }
  return socketExchange(options, (conversation) => {
    const { done, fail } = conversation
    let buffer = ''
    let sawInfo = false
    const notNats = (text: string) =>
      fail(`not a NATS server (it greeted with ${JSON.stringify(printable(text.slice(0, 40)))})`)

    const handle = (line: string) => {
      if (!sawInfo) {
        if (!line.startsWith('INFO ')) return notNats(line)
        sawInfo = true
        let info: { tls_required?: boolean; auth_required?: boolean }
        try {
          info = JSON.parse(line.slice(5)) as typeof info
        } catch {
          return notNats(line)
        }
        if (info.tls_required || url.protocol === 'tls:') return conversation.startTls(tls, sendConnect)
        return sendConnect()
      }
      if (line === 'PONG') return done()
      if (line === 'PING') return void conversation.socket.write('PONG\r\n')
      if (line.startsWith('-ERR')) {
        const message = line.slice(4).trim().replace(/^'|'$/g, '')
        if (/authori[sz]ation|authentication|user/i.test(message)) {
          return fail(`authentication failed (${message}): check the user and password`)
        }
        return fail(`the server refused the connection (${message})`)
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
        fields.user = decodeLoose(url.username)
        fields.pass = decodeLoose(url.password)
      } else if (url.username) fields.auth_token = decodeLoose(url.username)
      conversation.socket.write(`CONNECT ${JSON.stringify(fields)}\r\nPING\r\n`)
    }

    return {
      data(chunk) {
        buffer += chunk.toString('utf8')
        if (buffer.length > MAX_BUFFER) return fail('not a NATS server (oversized greeting)')
        let newline = buffer.indexOf('\r\n')
        while (newline >= 0 && !conversation.settled) {
          const line = buffer.slice(0, newline)
          buffer = buffer.slice(newline + 2)
          handle(line)
          newline = buffer.indexOf('\r\n')
        }
        if (!sawInfo && buffer.length > 0 && !'INFO '.startsWith(buffer.slice(0, 5)) && !buffer.startsWith('INFO ')) {
          notNats(buffer)
        }
      },
    }
  })
}
