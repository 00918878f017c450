import { MAX_TIMER_MS } from '../core/clock.js'
import { NotReady } from '../core/errors.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { redactUrl } from '../core/redact.js'
import type { CheckContext, CheckDetails, Probe } from '../core/types.js'
import { loadDriver } from '../probes/load-driver.js'
import { describeNetworkError } from '../probes/network-error.js'
import { credentialsReason } from '../probes/redis.js'

export interface BrokerWorkerProbeOptions {
  /** The broker, `redis://` or `rediss://` (BullMQ's Redis). */
  url: string
  /** The worker name to find among the broker's connections. */
  workerName: string
  /** Only count the worker when it consumes this queue. */
  queue?: string
  /** The deadline the probe runs under (runProbe enforces it); also caps the connect. */
  timeoutMs: number
}

const BROKER_OPTION_KEYS = optionKeys<BrokerWorkerProbeOptions>()({
  url: true,
  workerName: true,
  queue: true,
  timeoutMs: true,
})

/** One worker connection found in CLIENT LIST. */
export interface BullmqWorkerConnection {
  /** The worker's name (`name` worker option). */
  worker: string
  /** The queue it consumes. */
  queue: string
  /** The key prefix (`bull` unless configured). */
  prefix: string
  /** The database the connection uses (`db=` in CLIENT LIST; 0 when the server does not say). */
  db: number
}

/**
 * `<prefix>:<base64 of queue>` as BullMQ writes the head of a worker's connection name, or
 * undefined: the prefix may itself contain colons, the queue is canonical base64.
 */
function headOf(head: string): { prefix: string; queue: string } | undefined {
  const colon = head.lastIndexOf(':')
  if (colon <= 0) return undefined
  const encoded = head.slice(colon + 1)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined
  const queue = Buffer.from(encoded, 'base64')
  if (queue.toString('base64') !== encoded) return undefined
  return { prefix: head.slice(0, colon), queue: queue.toString('utf8') }
}

/**
 * The BullMQ worker connections in a `CLIENT LIST` reply. BullMQ names a worker's blocking
 * connection `<prefix>:<base64 of queue>:w:<name>` (createBlockingConnection). A name may
 * hold `:w:` itself: with `workerName` given, a connection named for it is read as that
 * worker's whatever it holds; any other is split at its first `:w:` after a valid head.
 */
export function parseWorkerConnections(clientList: string, workerName?: string): BullmqWorkerConnection[] {
  const found: BullmqWorkerConnection[] = []
  const mine = workerName === undefined ? undefined : `:w:${workerName}`
  for (const line of clientList.split(/\r?\n/)) {
    const name = /(?:^| )name=(\S+)/.exec(line)?.[1]
    if (name === undefined) continue
    let parsed: { prefix: string; queue: string; worker: string } | undefined
    if (mine !== undefined && name.endsWith(mine)) {
      const head = headOf(name.slice(0, -mine.length))
      if (head) parsed = { ...head, worker: workerName as string }
    }
    for (let at = name.indexOf(':w:'); parsed === undefined && at !== -1; at = name.indexOf(':w:', at + 1)) {
      const head = headOf(name.slice(0, at))
      const worker = name.slice(at + 3)
      if (head && worker !== '') parsed = { ...head, worker }
    }
    if (!parsed) continue
    found.push({ ...parsed, db: Number(/(?:^| )db=(\d+)/.exec(line)?.[1] ?? 0) })
  }
  return found
}

interface RedisClient {
  connect(): Promise<void>
  ping(): Promise<string>
  client(subcommand: 'LIST'): Promise<string>
  disconnect(): void
  on(event: 'error', listener: (error: Error) => void): unknown
  /** The connection's socket, once it is being made. */
  readonly stream?: { destroy(): void }
}
type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClient

/**
 * A probe that PINGs the broker and checks that the named BullMQ worker holds a connection
 * to it — the Node counterpart of Celery's `inspect ping`: the round trip proves the broker
 * answers, the connection proves the worker is attached to it. One short-lived connection,
 * destroyed at the deadline (a frozen Redis accepts the TCP connection and then says nothing).
 */
export function brokerWorkerProbe(options: BrokerWorkerProbeOptions): Probe {
  rejectUnknownKeys('brokerWorkerProbe', options, BROKER_OPTION_KEYS)
  const shownUrl = redactUrl(options.url)
  return {
    name: 'ping',
    componentType: 'datastore',
    async check({ signal }: CheckContext): Promise<CheckDetails> {
      const { default: Redis } = await loadDriver<{ default: RedisConstructor }>('ioredis', 'The broker ping')
      signal.throwIfAborted()
      const client = new Redis(options.url, {
        lazyConnect: true,
        // ioredis sets one timer: past what it holds, Node warns on stderr and fires it at once.
        connectTimeout: Math.min(options.timeoutMs, MAX_TIMER_MS),
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      })
      // ioredis rejects a failed connect with "Connection is closed."; the cause (ECONNREFUSED,
      // WRONGPASS, a TLS error) arrives on 'error', so keep it for the reason.
      let cause: Error | undefined
      client.on('error', (error) => {
        cause ??= error
        // A reply the parser cannot read (no Redis on that port) leaves the connect and the
        // commands sent waiting for the deadline: the connection is useless, so end it and
        // them now. disconnect() alone waits ~2 s for a connect still under way; the socket
        // destroyed closes it at once.
        client.stream?.destroy()
        client.disconnect()
      })
      const destroy = () => client.disconnect()
      signal.addEventListener('abort', destroy, { once: true })
      try {
        await client.connect()
        const started = performance.now()
        const pong = await client.ping()
        const pingMs = performance.now() - started
        const connections = parseWorkerConnections(await clientList(client), options.workerName)
        // CLIENT LIST covers the whole server: a worker on another database uses other queues.
        const db = databaseOf(options.url)
        const mine = connections.filter(
          (c) =>
            c.worker === options.workerName &&
            c.db === db &&
            (options.queue === undefined || c.queue === options.queue),
        )
        if (mine.length === 0) throw new NotReady(notConnected(options, shownUrl, connections, db))
        const queues = [...new Set(mine.map((c) => c.queue))].join(', ')
        return {
          message: `${shownUrl} ${pong} in ${pingMs.toFixed(1)} ms; worker ${options.workerName} is connected (queue ${queues})`,
          observedValue: Number(pingMs.toFixed(3)),
          observedUnit: 'ms',
          componentId: shownUrl,
        }
      } catch (error) {
        if (error instanceof NotReady || signal.aborted) throw error
        throw new NotReady(brokerReason(cause ?? error))
      } finally {
        signal.removeEventListener('abort', destroy)
        client.disconnect()
      }
    },
  }
}

async function clientList(client: RedisClient): Promise<string> {
  try {
    return await client.client('LIST')
  } catch (error) {
    // ACL users without +client|list, and managed services that disable CLIENT.
    const reason = describeNetworkError(error)
    throw new NotReady(
      `${reason}; finding the worker needs CLIENT LIST (grant the broker user +client|list, or use --skip-ping)`,
    )
  }
}

/** The database a redis:// URL names (its path), 0 when it names none. */
function databaseOf(url: string): number {
  try {
    const path = new URL(url).pathname.replace(/^\//, '')
    return /^\d+$/.test(path) ? Number(path) : 0
  } catch {
    return 0
  }
}

/**
 * The reason a broker connection failed, in the redis probe's words for credentials and for
 * a server that is not Redis: ioredis' parser says "Unknown RESP type 60 "<". Please
 * report this." of an HTTP server, inviting a bug report to the wrong place.
 */
function brokerReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  if (/Unknown RESP type|Protocol error|reply type byte/i.test(message)) {
    const byte = /"(.{1,4}?)"/.exec(message)?.[1]
    return `not a Redis server (unexpected reply${byte ? ` ${JSON.stringify(byte)}` : ''})`
  }
  return credentialsReason(message) ?? describeNetworkError(error)
}

function notConnected(
  options: BrokerWorkerProbeOptions,
  shownUrl: string,
  all: BullmqWorkerConnection[],
  db: number,
): string {
  const onQueue = options.queue === undefined ? '' : ` on queue ${options.queue}`
  const others = [
    ...new Set(all.map((c) => `${c.worker} (queue ${c.queue}${c.db === db ? '' : `, database ${c.db}`})`)),
  ]
  const seen =
    others.length === 0
      ? 'no named BullMQ worker is connected'
      : `connected: ${others.slice(0, 5).join(', ')}${others.length > 5 ? ` and ${others.length - 5} more` : ''}`
  return `worker ${options.workerName} is not connected to ${shownUrl}${onQueue}; ${seen}`
}
