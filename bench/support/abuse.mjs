#!/usr/bin/env node
/**
 * Abuses a running `probekit monitor` the way a careless fleet (or an attacker) would:
 * long-poll watchers that come straight back after every answer, and a push flood that
 * alternates success and failure on one push check, some of its requests cut off
 * mid-body. Used by the "monitor under abuse" bench and by test/monitor/abuse.test.ts.
 *
 *   node bench/support/abuse.mjs --api http://127.0.0.1:8008 --watchers 2000 \
 *     --push pod/job --pushers 8 --seconds 20 [--abort-every 20]
 *
 * Prints one JSON line when done: what the monitor answered, counted.
 */
import { Agent, request } from 'node:http'
import { connect } from 'node:net'

function parseArgs(argv) {
  const options = { api: '', watchers: 0, push: '', pushers: 4, seconds: 10, abortEvery: 0, wait: '30s' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '')
    const value = argv[i + 1] ?? ''
    if (key === 'api') options.api = value.replace(/\/$/, '')
    else if (key === 'watchers') options.watchers = Number(value)
    else if (key === 'push') options.push = value
    else if (key === 'pushers') options.pushers = Number(value)
    else if (key === 'seconds') options.seconds = Number(value)
    else if (key === 'abort-every') options.abortEvery = Number(value)
    else if (key === 'wait') options.wait = value
    else throw new Error(`abuse.mjs: unknown option --${key}`)
  }
  if (!options.api) throw new Error('abuse.mjs: --api URL is required')
  return options
}

const options = parseArgs(process.argv.slice(2))
const api = new URL(options.api)
const deadline = performance.now() + options.seconds * 1000
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })
const counts = { watchAnswers: 0, watchBusy: 0, watchErrors: 0, pushes: {}, pushErrors: 0, aborted: 0 }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One HTTP request; resolves with status, headers and body, or rejects on a network error. */
function call(method, path, body) {
  // As fetch (undici), Go's net/http and browsers do by default.
  const headers = { 'accept-encoding': 'gzip, deflate' }
  if (body) headers['content-type'] = 'text/plain'
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.hostname,
        port: api.port,
        method,
        path,
        agent,
        headers,
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function watcher() {
  let index = 0
  while (performance.now() < deadline) {
    try {
      const res = await call('GET', `/v1/checks?index=${index}&wait=${options.wait}`)
      if (res.status === 200) {
        counts.watchAnswers++
        index = Number(res.headers['x-probekit-index'] ?? index)
      } else if (res.status === 503) {
        counts.watchBusy++
        await sleep(Number(res.headers['retry-after'] ?? 1) * 1000)
      } else counts.watchErrors++
    } catch {
      counts.watchErrors++
      await sleep(200)
    }
  }
}

/** A push whose client disconnects after half its body. */
function abortedPush(path) {
  return new Promise((resolve) => {
    const socket = connect(Number(api.port), api.hostname, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${api.host}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(500)}`)
      setTimeout(() => {
        socket.destroy()
        counts.aborted++
        resolve()
      }, 5)
    })
    socket.on('error', () => resolve())
  })
}

async function pusher(n) {
  for (let i = 0; performance.now() < deadline; i++) {
    const path = `/v1/push/${options.push}${(i + n) % 2 === 0 ? '' : '/fail'}`
    if (options.abortEvery > 0 && i % options.abortEvery === options.abortEvery - 1) {
      await abortedPush(path)
      continue
    }
    try {
      const res = await call('POST', path, `flood ${i}`)
      counts.pushes[res.status] = (counts.pushes[res.status] ?? 0) + 1
    } catch {
      counts.pushErrors++
      await sleep(50)
    }
  }
}

const loops = []
// Watchers arrive in waves of 100: the listen backlog would drop a SYN storm of 2,000 at once.
for (let i = 0; i < options.watchers; i++) {
  loops.push(watcher())
  if (i % 100 === 99) await sleep(20)
}
if (options.push) for (let i = 0; i < options.pushers; i++) loops.push(pusher(i))
// Watchers hold requests open until their wait ends: stop at the deadline, not after it.
const timer = setTimeout(
  () => {
    agent.destroy()
    finish()
  },
  Math.max(0, deadline - performance.now()) + 100,
)
await Promise.all(loops)
clearTimeout(timer)
finish()

function finish() {
  process.stdout.write(`${JSON.stringify(counts)}\n`, () => process.exit(0))
}
