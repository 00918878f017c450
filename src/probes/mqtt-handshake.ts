/**
 * MQTT 3.1.1 spoken directly for URL mode (mqtt:// and mqtts://): CONNECT → CONNACK, then
 * PINGREQ → PINGRESP, then DISCONNECT. Owning the socket lets the probe destroy it at the
 * deadline, and skipping mqtt.js keeps the CLI fast: the driver takes longer to import
 * than a whole check.
 */
import { randomBytes } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import { decodeLoose } from '../core/redact.js'
import { printable } from './network-error.js'
import { type SocketExchangeOptions, socketExchange } from './socket.js'

const CONNACK = 0x20
const PINGRESP = 0xd0
const PINGREQ = Buffer.from([0xc0, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])

const REFUSALS: Record<number, string> = {
  1: 'Connection refused: Unacceptable protocol version',
  2: 'Connection refused: Identifier rejected',
  3: 'Connection refused: Server unavailable',
  4: 'Connection refused: Bad username or password',
  5: 'Connection refused: Not authorized',
}

export function mqttHandshake(
  url: URL,
  what: string,
  limitMs: number,
  signal: AbortSignal,
  tls: ConnectionOptions = {},
): Promise<void> {
  const secure = url.protocol === 'mqtts:'
  const options: SocketExchangeOptions = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port) || (secure ? 8883 : 1883),
    what,
    limitMs,
    signal,
    limitCovers: 'handshake',
    tlsTrustHint: "trust the broker's CA with the ca option, or set insecure",
    closedEarly: 'the broker closed the connection',
    plainHint: 'if the port takes TLS, write mqtts://',
    tlsHint: 'if the port does not take TLS, write mqtt://',
  }
  if (secure) options.tls = tls
  return socketExchange(options, ({ socket, done, fail }) => {
    let buffer = Buffer.alloc(0)
    let connected = false
    const notMqtt = (data: Buffer) =>
      fail(`not an MQTT broker (it answered ${JSON.stringify(printable(data.subarray(0, 24).toString('latin1')))})`)
    return {
      connected: () => socket.write(connectPacket(url)),
      data(chunk) {
        buffer = Buffer.concat([buffer, chunk])
        // Every packet we expect has a one-byte remaining length of 2 or 0.
        while (buffer.length >= 2) {
          const type = buffer[0] as number
          const length = buffer[1] as number
          if (!connected) {
            if (type !== CONNACK || length !== 2) return notMqtt(buffer)
            if (buffer.length < 4) return
            const code = buffer[3] as number
            buffer = buffer.subarray(4)
            if (code === 4 || code === 5) {
              return fail(`authentication failed (${REFUSALS[code]}): check the user and password`)
            }
            if (code !== 0) return fail(REFUSALS[code] ?? `Connection refused: code ${code}`)
            connected = true
            socket.write(PINGREQ)
            continue
          }
          if (type === PINGRESP && length === 0) {
            if (socket.writable) socket.end(DISCONNECT)
            return done()
          }
          // Anything else (a retained publish cannot arrive: we subscribe to nothing) is skipped.
          if (buffer.length < 2 + length) return
          buffer = buffer.subarray(2 + length)
        }
      },
    }
  })
}

function connectPacket(url: URL): Buffer {
  const string = (text: string) => {
    const bytes = Buffer.from(text, 'utf8')
    const length = Buffer.alloc(2)
    length.writeUInt16BE(bytes.length)
    return Buffer.concat([length, bytes])
  }
  const user = url.username ? decodeLoose(url.username) : undefined
  const password = url.password ? decodeLoose(url.password) : undefined
  let flags = 0x02 // clean session
  if (user !== undefined) flags |= 0x80
  if (password !== undefined) flags |= 0x40
  const keepAlive = Buffer.from([0x00, 0x0a])
  const parts = [
    string('MQTT'),
    Buffer.from([0x04, flags]),
    keepAlive,
    string(`probekit-${randomBytes(6).toString('hex')}`),
  ]
  if (user !== undefined) parts.push(string(user))
  if (password !== undefined) parts.push(string(password))
  const body = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body])
}

function remainingLength(length: number): Buffer {
  const bytes: number[] = []
  do {
    let byte = length % 128
    length = Math.floor(length / 128)
    if (length > 0) byte |= 0x80
    bytes.push(byte)
  } while (length > 0)
  return Buffer.from(bytes)
}
