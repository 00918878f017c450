/**
 * A real three-node Redis Cluster (three masters, no replicas) for tests, created the way
 * operators do it: `redis-cli --cluster create … --cluster-yes`. Ready means every node
 * reports `cluster_state:ok`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { canConnect, freePort, requireBinary, waitFor } from '../server-process.js'
import { type RedisServer, rawRedisCommand, startRedis } from './redis.js'

const execFileAsync = promisify(execFile)

export interface RedisCluster {
  host: string
  nodes: RedisServer[]
  /** `[{ host, port }, …]`, as ioredis' `Cluster` and node-redis' `createCluster` take them. */
  startupNodes: { host: string; port: number }[]
  /** `redis://127.0.0.1:PORT` of the first node. */
  url: string
  stop(): Promise<void>
}

/** A free port whose cluster-bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await freePort()
    if (port + 10_000 > 65_535 || taken.has(port) || taken.has(port + 10_000)) continue
    if (await canConnect(port + 10_000, '127.0.0.1', 200)) continue
    return port
  }
  throw new Error('no free port pair (port, port + 10000) found for a Redis Cluster node')
}

export async function startRedisCluster(options: { password?: string } = {}): Promise<RedisCluster> {
  const redisCli = requireBinary('redis-cli', ['/usr/bin/redis-cli'])
  const host = '127.0.0.1'
  const taken = new Set<number>()
  const ports: number[] = []
  for (let i = 0; i < 3; i++) {
    const port = await freeClusterPort(taken)
    taken.add(port)
    taken.add(port + 10_000)
    ports.push(port)
  }
  const auth = options.password ? ['--masterauth', options.password] : []
  const nodes = await Promise.all(
    ports.map((port) =>
      startRedis({
        port,
        password: options.password,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
          ...auth,
        ],
      }),
    ),
  )
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  }
  try {
    await execFileAsync(redisCli, [
      ...(options.password ? ['-a', options.password, '--no-auth-warning'] : []),
      '--cluster',
      'create',
      ...ports.map((p) => `${host}:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    const authCmd = options.password
      ? `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(options.password)}\r\n${options.password}\r\n`
      : ''
    for (const port of ports) {
      await waitFor(
        `redis cluster node ${port} to report cluster_state:ok`,
        async () => {
          const reply = await rawRedisCommand(port, host, `${authCmd}*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n`)
          return reply.includes('cluster_state:ok')
        },
        30_000,
        100,
      )
    }
  } catch (error) {
    await stop()
    throw error
  }
  return {
    host,
    nodes,
    startupNodes: ports.map((port) => ({ host, port })),
    url: `redis://${host}:${ports[0]}`,
    stop,
  }
}
