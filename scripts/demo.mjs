#!/usr/bin/env node
// The probekit demo: an example app (SQLite, a payments service, probekit health
// endpoints), an example worker (probekit/worker files and push reports) and
// `probekit monitor` with its SQLite store and dashboard, watching both.
//
//   bash scripts/demo.sh            set-up, build, then this
//   node scripts/demo.mjs [--ports default|random] [--keep]
//
// Keys (when run in a terminal): b breaks the app's database, p breaks the payments
// service, h heals both, q or Ctrl-C stops everything gracefully.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const randomPorts = args.includes('--ports=random') || args.join(' ').includes('--ports random')
const keep = args.includes('--keep')
if (args.includes('-h') || args.includes('--help')) {
  process.stdout.write(
    'Usage: node scripts/demo.mjs [--ports default|random] [--keep]\n\n' +
      '  --ports random  use free ports instead of 3000, 3001, 9000 and 8008\n' +
      '  --keep          keep the state directory (SQLite files, manifests) after stopping\n',
  )
  process.exit(0)
}

const color = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
const say = (text) => process.stdout.write(`${text}\n`)

const probekitBin = join(root, 'bin/probekit.js')
if (!existsSync(join(root, 'dist/index.js')) || !existsSync(join(root, 'dist/bin/probekit.js'))) {
  say(
    'probekit demo: probekit is not built yet; run "bash scripts/demo.sh" (it sets up and builds first) or "npm run build".',
  )
  process.exit(1)
}

/** The preferred port if it is free, else one the OS picks. */
function choosePort(preferred) {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => (preferred === 0 ? resolve(0) : choosePort(0).then(resolve)))
    server.listen(preferred, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

const ports = {}
for (const [name, preferred] of [
  ['app', 3000],
  ['downstream', 3001],
  ['management', 9000],
  ['monitor', 8008],
]) {
  let port = await choosePort(randomPorts ? 0 : preferred)
  while (Object.values(ports).includes(port)) port = await choosePort(0)
  ports[name] = port
}

const dir = mkdtempSync(join(tmpdir(), 'probekit-demo-'))
const manifests = join(dir, 'manifests')
mkdirSync(manifests)
const values = {
  MANAGEMENT_PORT: ports.management,
  DOWNSTREAM_PORT: ports.downstream,
  NODE: process.execPath,
  PROBEKIT: probekitBin,
  WORKER_DIR: dir,
}
const templates = join(root, 'examples/demo/manifests')
for (const file of readdirSync(templates)) {
  const text = readFileSync(join(templates, file), 'utf8').replace(/__([A-Z_]+)__/g, (_, key) => String(values[key]))
  writeFileSync(join(manifests, file), text)
}

const urls = {
  app: `http://127.0.0.1:${ports.app}`,
  health: `http://127.0.0.1:${ports.management}`,
  monitor: `http://127.0.0.1:${ports.monitor}`,
}

// --- the three processes ---------------------------------------------------------------------
const children = []
let stopping = false

function start(name, command, argv, env, tint) {
  const child = spawn(command, argv, {
    cwd: root,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const entry = {
    name,
    child,
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  }
  children.push(entry)
  let partial = ''
  const print = (chunk) => {
    partial += chunk.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) if (line.trim()) say(`${paint(tint, `[${name}]`.padEnd(9))} ${line}`)
  }
  child.stdout.on('data', print)
  child.stderr.on('data', print)
  entry.exited.then(({ code, signal }) => {
    if (stopping) return
    say(paint('31', `probekit demo: ${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the demo`))
    shutdown(1)
  })
  return entry
}

async function waitUntilUp(url, what) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (stopping) return
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 150))
  }
  say(paint('31', `probekit demo: ${what} did not come up at ${url} within 30 s; stopping`))
  await shutdown(1)
}

say(paint('1', 'probekit demo: starting the app, the monitor and the worker…'))
start(
  'app',
  process.execPath,
  [join(root, 'examples/demo/app.mjs')],
  {
    PORT: String(ports.app),
    MANAGEMENT_PORT: String(ports.management),
    DOWNSTREAM_PORT: String(ports.downstream),
    DB_FILE: join(dir, 'shop.sqlite'),
  },
  '36',
)
await waitUntilUp(`${urls.health}/livez`, 'the app')
start(
  'monitor',
  process.execPath,
  [
    probekitBin,
    'monitor',
    '--store',
    `sqlite:${join(dir, 'monitor.sqlite')}`,
    '--listen',
    `127.0.0.1:${ports.monitor}`,
    manifests,
  ],
  {},
  '35',
)
await waitUntilUp(`${urls.monitor}/readyz`, 'the monitor')
start(
  'worker',
  process.execPath,
  [join(root, 'examples/demo/worker.mjs')],
  { APP_URL: urls.app, MONITOR_URL: urls.monitor, WORKER_DIR: dir },
  '33',
)

const keys = process.stdin.isTTY
say('')
say(paint('1', 'probekit demo is running. Open:'))
say(`  dashboard     ${paint('1;32', `${urls.monitor}/`)}`)
say(`  app           ${urls.app}/            its health: ${urls.health}/readyz?verbose`)
say(`  monitor API   ${urls.monitor}/v1/checks   metrics: ${urls.monitor}/metrics`)
say(`  inspect       node bin/probekit.js inspect --api ${urls.monitor} --format tree`)
say('')
say(`  break the database   ${keys ? 'press b, or ' : ''}curl -X POST ${urls.app}/break`)
say(`  break payments       ${keys ? 'press p, or ' : ''}curl -X POST '${urls.app}/break?dep=payments'`)
say(`  heal both            ${keys ? 'press h, or ' : ''}curl -X POST ${urls.app}/heal`)
say(`  stop                 ${keys ? 'press q or ' : ''}Ctrl-C`)
say(`  state directory      ${dir}`)
say('')

async function post(path) {
  try {
    const res = await fetch(`${urls.app}${path}`, { method: 'POST', signal: AbortSignal.timeout(2000) })
    await res.arrayBuffer()
  } catch (error) {
    say(`probekit demo: ${path} failed: ${error.message}`)
  }
}

if (keys) {
  process.stdin.setRawMode(true)
  process.stdin.resume()
  process.stdin.on('data', (data) => {
    const key = data.toString()
    // In raw mode Ctrl-C arrives as a byte, not as SIGINT.
    if (key === '\u0003' || key === 'q') shutdown(0)
    else if (key === 'b') post('/break')
    else if (key === 'p') post('/break?dep=payments')
    else if (key === 'h') post('/heal').then(() => post('/heal?dep=database'))
  })
}

// --- stopping -------------------------------------------------------------------------------
let stopped
function shutdown(code) {
  stopped ??= (async () => {
    stopping = true
    if (keys) {
      process.stdin.setRawMode(false)
      process.stdin.pause()
    }
    say(paint('1', 'probekit demo: stopping (SIGTERM to each process, then waiting for it)…'))
    // The worker first (it reports to the monitor), then the monitor, then the app.
    for (const name of ['worker', 'monitor', 'app']) {
      const entry = children.find((c) => c.name === name)
      if (!entry || entry.child.exitCode !== null || entry.child.signalCode !== null) continue
      entry.child.kill('SIGTERM')
      const timer = setTimeout(() => entry.child.kill('SIGKILL'), 10_000)
      const { code: exitCode, signal } = await entry.exited
      clearTimeout(timer)
      if (signal === 'SIGKILL') say(paint('31', `probekit demo: ${name} did not stop within 10 s and was killed`))
      // Ending by the SIGTERM sent just now is a stop, not a failure: a Ctrl-C that reaches
      // the whole process group (stdin not a terminal) has the children stopping already,
      // and a second signal ends a process that is already stopping.
      else if ((exitCode !== null && exitCode !== 0) || (signal !== null && signal !== 'SIGTERM')) {
        say(paint('31', `probekit demo: ${name} stopped with ${signal ?? `code ${exitCode}`}`))
        if (code === 0) code = 1
      }
    }
    if (keep) say(`probekit demo: kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
    say('probekit demo: stopped.')
    process.exit(code)
  })()
  return stopped
}
process.on('SIGINT', () => shutdown(0))
process.on('SIGTERM', () => shutdown(0))
