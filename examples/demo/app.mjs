// The demo's example app: a tiny shop that keeps its orders in SQLite and charges them
// through a "payments" service, with probekit's health endpoints on a separate
// management port. Run by scripts/demo.mjs; on its own:
//   PORT=3000 MANAGEMENT_PORT=9000 DOWNSTREAM_PORT=3001 DB_FILE=/tmp/shop.sqlite node examples/demo/app.mjs
//
// Break and heal its dependencies with
//   curl -X POST http://127.0.0.1:3000/break              (the database: another connection locks it)
//   curl -X POST 'http://127.0.0.1:3000/break?dep=payments'
//   curl -X POST http://127.0.0.1:3000/heal               (everything)
import { createServer } from 'node:http'
import { createHealth, NotReady } from 'probekit'
import { eventLoop, sqlite } from 'probekit/probes'

const PORT = Number(process.env.PORT ?? 3000)
const MANAGEMENT_PORT = Number(process.env.MANAGEMENT_PORT ?? 9000)
const DOWNSTREAM_PORT = Number(process.env.DOWNSTREAM_PORT ?? 3001)
const DB_FILE = process.env.DB_FILE ?? 'shop.sqlite'
const HOST = '127.0.0.1'

// --- the database -----------------------------------------------------------------------
// Node's built-in SQLite where this Node has it (22.13 and later), else better-sqlite3;
// the sqlite probe takes either. A busy timeout of 0: a locked database fails the query at
// once instead of blocking the event loop (both drivers are synchronous) while it waits.
const builtinSqlite = (() => {
  try {
    return process.getBuiltinModule?.('node:sqlite')
  } catch {
    return undefined
  }
})()
const Database = builtinSqlite ? builtinSqlite.DatabaseSync : (await import('better-sqlite3')).default
const db = new Database(DB_FILE, { timeout: 0 })
// Rollback-journal mode, so an exclusive lock held elsewhere really blocks our reads.
db.exec('PRAGMA journal_mode = DELETE')
db.exec(`CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  item TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)`)
const countOrders = db.prepare('SELECT count(*) AS n FROM orders')
const insertOrder = db.prepare('INSERT INTO orders (item) VALUES (?)')

// "Breaking" the database: a second connection holds an exclusive lock, as a long
// migration or another process would. Our queries then fail with "database is locked".
const saboteur = new Database(DB_FILE, { timeout: 0 })
let databaseBroken = false
function breakDatabase() {
  if (databaseBroken) return
  saboteur.exec('BEGIN EXCLUSIVE')
  databaseBroken = true
}
function healDatabase() {
  if (!databaseBroken) return
  saboteur.exec('ROLLBACK')
  databaseBroken = false
}

// --- the downstream "payments" service (simulated, on its own port) ----------------------
let paymentsBroken = false
const payments = createServer((req, res) => {
  if (paymentsBroken) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('payments: the card processor is not answering\n')
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url === '/health' ? 'ok\n' : 'charged\n')
})

// --- health ---------------------------------------------------------------------------------
const health = createHealth({ timeout: 1000 })

// Readiness: the database handle answers (probekit's SQLite probe: SELECT 1)…
health.add(sqlite(db, { name: 'database' }))
// …and the shop can read its orders. SELECT 1 never touches the file, so a lock held by
// another connection only shows when a query reads a table: this is the app's own probe.
health.add(
  'orders',
  () => {
    const { n } = countOrders.get()
    return { observedValue: n, observedUnit: 'orders', componentType: 'datastore' }
  },
  { timeout: 500 },
)

// A degraded dependency: when payments fail, orders still queue up, so the pod must stay
// in rotation. critical: false turns its failure into a warning (200, not 503).
health.add(
  'payments',
  async ({ signal }) => {
    const res = await fetch(`http://${HOST}:${DOWNSTREAM_PORT}/health`, { signal })
    await res.arrayBuffer()
    if (!res.ok) throw new NotReady(`payments answered ${res.status}`)
  },
  { critical: false, timeout: 800 },
)

// Liveness: only what proves this process must be restarted — a stuck event loop
// (probekit's probe: the 99th percentile of the loop's delay over a rolling 10 s window).
health.add(eventLoop({ maxDelay: 1000 }))

// --- the app ------------------------------------------------------------------------------
function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(`${JSON.stringify(body)}\n`)
}

const app = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${HOST}`)
  const dep = url.searchParams.get('dep') ?? 'database'
  try {
    if (req.method === 'GET' && url.pathname === '/') {
      send(res, 200, { shop: 'probekit demo', orders: countOrders.get().n, databaseBroken, paymentsBroken })
    } else if (req.method === 'POST' && url.pathname === '/orders') {
      const info = insertOrder.run(`item-${Date.now()}`)
      send(res, 201, { id: Number(info.lastInsertRowid) })
    } else if (req.method === 'POST' && url.pathname === '/break') {
      if (dep === 'payments') paymentsBroken = true
      else if (dep === 'database') breakDatabase()
      else return send(res, 400, { error: `unknown dependency "${dep}"; use database or payments` })
      console.log(`broke ${dep}`)
      send(res, 200, { broken: dep })
    } else if (req.method === 'POST' && url.pathname === '/heal') {
      if (dep === 'payments' || !url.searchParams.has('dep')) paymentsBroken = false
      if (dep === 'database') healDatabase()
      console.log(`healed ${url.searchParams.has('dep') ? dep : 'everything'}`)
      send(res, 200, { healed: url.searchParams.has('dep') ? dep : 'everything' })
    } else send(res, 404, { error: 'try GET /, POST /orders, POST /break, POST /heal' })
  } catch (error) {
    // A broken database shows here too: the request fails, the process stays up.
    send(res, 503, { error: error.message })
  }
})

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, resolve)
  })
}

await listen(payments, DOWNSTREAM_PORT)
await listen(app, PORT)
await health.listen({ port: MANAGEMENT_PORT, host: HOST })
console.log(
  `shop on http://${HOST}:${PORT}/, health on http://${HOST}:${MANAGEMENT_PORT}/readyz, payments on :${DOWNSTREAM_PORT}`,
)

// --- graceful shutdown --------------------------------------------------------------------
let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  console.log(`${signal}: draining`)
  // Readiness fails from now on, so a load balancer stops sending traffic.
  health.beginShutdown()
  app.closeIdleConnections()
  await Promise.all([new Promise((r) => app.close(r)), new Promise((r) => payments.close(r))])
  await health.close()
  healDatabase()
  saboteur.close()
  db.close()
  console.log('stopped')
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
