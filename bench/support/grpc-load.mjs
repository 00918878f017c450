/**
 * A closed-loop gRPC load generator: `concurrency` Check calls in flight on one grpc-js
 * channel for `seconds`, then prints `{"calls":…,"errors":…,"seconds":…}`.
 *   node bench/support/grpc-load.mjs PORT CONCURRENCY SECONDS
 */
import { createRequire } from 'node:module'
import * as grpc from '@grpc/grpc-js'

const require = createRequire(import.meta.url)
const { service } = require('grpc-health-check')
const [port, concurrency, seconds] = process.argv.slice(2).map(Number)
const Client = grpc.makeGenericClientConstructor(service, 'Health')
const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
let calls = 0
let errors = 0
let running = true
const started = performance.now()
await new Promise((resolve) => client.waitForReady(Date.now() + 5000, resolve))
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (running) {
      await new Promise((resolve) =>
        client.check({ service: '' }, (error, reply) => {
          if (error || reply.status !== 'SERVING') errors++
          else calls++
          resolve()
        }),
      )
    }
  }).concat(
    new Promise((resolve) =>
      setTimeout(() => {
        running = false
        resolve()
      }, seconds * 1000),
    ),
  ),
)
const elapsed = (performance.now() - started) / 1000
client.close()
console.log(JSON.stringify({ calls, errors, seconds: elapsed }))
