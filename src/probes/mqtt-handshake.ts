/**
 * MQTT 3.1.1 spoken directly for URL mode (mqtt:// and mqtts://): CONNECT → CONNACK, then
 * PINGREQ → PINGRESP, then DISCONNECT. Owning the socket lets the probe destroy it at the
 * deadline, and skipping mqtt.js keeps the CLI fast: the driver takes longer to import
 * than a whole check.
 */
import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { NotReady } from '../core/errors.js'
import { connectTimedOut } from './connect-timeout.js'
import { describeNetworkError, isTlsTrustError } from './network-error.js'
import { serverName } from './tls-options.js'

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
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const secure = url.protocol === 'mqtts:'
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const port = Number(url.port) || (secure ? 8883 : 1883)
    let buffer = Buffer.alloc(0)
    let connected = false
    let settled = false
    const socket: Socket | TLSSocket = secure ? tlsConnect({ ...tls, host, port, ...serverName(host) }) : new Socket()
    const finish = (error?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      socket.removeAllListeners()
      socket.on('error', () => {})
      if (error === undefined && socket.writable) socket.end(DISCONNECT)
      socket.destroy()
      if (error === undefined) resolve()
      else reject(error)
    }
    const onAbort = () => finish(signal.reason)
    const timer = setTimeout(() => finish(connectTimedOut(what, limitMs)), limitMs)
    signal.addEventListener('abort', onAbort, { once: true })

    socket.on('error', (error) => {
      const reason = describeNetworkError(error)
      finish(
        new NotReady(
          `${what}: ${isTlsTrustError(error) ? `${reason}; trust the broker's CA with the ca option, or set insecure` : reason}`,
        ),
      )
    })
    socket.on('close', () => finish(new NotReady(`${what}: the broker closed the connection`)))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      // Every packet we expect has a one-byte remaining length of 2 or 0.
      while (buffer.length >= 2 && !settled) {
        const type = buffer[0] as number
        const length = buffer[1] as number
        if (!connected) {
          if (type !== CONNACK || length !== 2) return finish(notMqtt(buffer))
          if (buffer.length < 4) return
          const code = buffer[3] as number
          buffer = buffer.subarray(4)
          if (code === 4 || code === 5) {
            return finish(
              new NotReady(`${what}: authentication failed (${REFUSALS[code]}): check the user and password`),
            )
          }
          if (code !== 0)
            return finish(new NotReady(`${what}: ${REFUSALS[code] ?? `Connection refused: code ${code}`}`))
          connected = true
          socket.write(PINGREQ)
          continue
        }
        if (type === PINGRESP && length === 0) return finish()
        // Anything else (a retained publish cannot arrive: we subscribe to nothing) is skipped.
        if (buffer.length < 2 + length) return
        buffer = buffer.subarray(2 + length)
      }
    })
    const notMqtt = (data: Buffer) =>
      new NotReady(
        `${what}: not an MQTT broker (it answered ${JSON.stringify(printable(data.subarray(0, 24).toString('latin1')))})`,
      )

    const onConnected = () => socket.write(connectPacket(url))
    if (secure) socket.once('secureConnect', onConnected)
    else {
      socket.once('connect', onConnected)
      ;(socket as Socket).connect({ host, port })
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
  const user = url.username ? decodeURIComponent(url.username) : undefined
  const password = url.password ? decodeURIComponent(url.password) : undefined
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

/** An excerpt of what the peer sent, control and non-ASCII bytes as dots: one safe line. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '.')
}
