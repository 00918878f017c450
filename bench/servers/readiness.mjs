/**
 * A /readyz server checking Redis and PostgreSQL, for the flood and frozen-dependency
 * comparisons:
 *   REDIS_URL=… PG_URL=… node bench/servers/readiness.mjs <probekit|probekit-ttl|terminus>
 * Prints `{"port":…,"probes":…}` when listening. `GET /__bench/resources` answers the
 * process's active handles (process.getActiveResourcesInfo()) and memory, so the bench can
 * see what a frozen dependency leaves behind.
 */
import { createServer } from 'node:http'

const variant = process.argv[2]
const HOST = '127.0.0.1'
const { REDIS_URL, PG_URL } = process.env
if (!REDIS_URL || !PG_URL) {
  console.error('readiness server: set REDIS_URL and PG_URL')
  process.exit(1)
}

const { Redis } = await import('ioredis')
const { default: pg } = await import('pg')
// The app's own clients, shared by every check: what a real service has.
const redis = new Redis(REDIS_URL, { lazyConnect: false })
const pool = new pg.Pool({ connectionString: PG_URL, max: 10 })
redis.on('error', () => {})
pool.on('error', () => {})
await redis.ping()
await pool.query('SELECT 1')

function resources(_req, res) {
  const counts = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  const total = Object.values(counts).reduce((a, b) => a + b, 0)
  const body = JSON.stringify({ total, counts, memory: process.memoryUsage() })
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(body)
}

function fallback(req, res) {
  if (req.url === '/__bench/resources') return resources(req, res)
  res.statusCode = 404
  res.end()
}

/** probekit's built-in probes when they are built, else the same checks written by hand. */
async function probekitProbes() {
  let probes = {}
  try {
    probes = await import('probekit/probes')
  } catch {}
  if (typeof probes.redis === 'function' && typeof probes.postgres === 'function') {
    return { list: [probes.redis(redis), probes.postgres(pool)], kind: 'built-in redis(client) and postgres(pool)' }
  }
  return {
    list: [
      { name: 'redis', check: async () => void (await redis.ping()) },
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
    ],
    kind: 'hand-written checks (PING, SELECT 1): the built-in redis/postgres probes are not built yet',
  }
}

async function probekit(options) {
  const { createHealth } = await import('probekit')
  const health = createHealth({ logger: false, ...options })
  const probes = await probekitProbes()
  for (const probe of probes.list) health.add(probe)
  const server = createServer(health.handler(fallback))
  return { server, probes: probes.kind }
}

const variants = {
  probekit: () => probekit({}),
  'probekit-ttl': () => probekit({ cacheTtl: 1000 }),
  async terminus() {
    const { createTerminus } = await import('@godaddy/terminus')
    const server = createServer(fallback)
    // The naive way: every request runs every check.
    createTerminus(server, {
      healthChecks: {
        '/readyz': async () => {
          await Promise.all([redis.ping(), pool.query('SELECT 1')])
        },
      },
    })
    return { server, probes: 'PING and SELECT 1 per request' }
  },
}

const start = variants[variant]
if (!start) {
  console.error(`unknown variant "${variant}"; use one of: ${Object.keys(variants).join(', ')}`)
  process.exit(1)
}
const { server, probes } = await start()
server.keepAliveTimeout = 5000
server.listen(0, HOST, () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port, path: '/readyz', probes })}\n`)
})
