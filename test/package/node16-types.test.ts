/**
 * A CommonJS TypeScript project on `"module": "node16"` (what @tsconfig/node20 sets) with
 * skipLibCheck off, tsc's default, against the built declarations (dist/, `npm run build`
 * first). node16 models a Node that cannot require() an ES module, so each .d.cts, which
 * reaches its ES module's declarations, gave TS1479 in such a project; the install test
 * checks nodenext and node10 only. The types must also be real there, not `any`.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { docProject, typecheckDir } from '../docs/run-block.js'

const MAIN = `
import probekit = require('probekit')
import probes = require('probekit/probes')
import express = require('probekit/express')
import fastify = require('probekit/fastify')
import koa = require('probekit/koa')
import hono = require('probekit/hono')
import nest = require('probekit/nest')
import worker = require('probekit/worker')
import monitor = require('probekit/monitor')
import grpc = require('probekit/grpc')

const health: probekit.Health = probekit.createHealth({ timeout: 1000 })
health.add(probes.http('http://127.0.0.1:1/'))
const middleware: express.ExpressMiddleware = express(health)
const plugin: fastify.FastifyProbekitPlugin = fastify.default(health)
const koaMiddleware: koa.KoaMiddleware = koa(health)
const honoMiddleware: hono.HonoMiddleware = hono(health)
const module = nest.ProbekitModule.forRoot(health)
// @ts-expect-error the timeout is a number: the types are real, not any
probekit.createHealth({ timeout: '1s' })
// @ts-expect-error the middleware is a function, not a number
const wrong: number = express(health)
export { middleware, plugin, koaMiddleware, honoMiddleware, module, wrong, worker, monitor, grpc }
`

describe('the declarations in a CommonJS project on "module": "node16"', () => {
  it('type-check with skipLibCheck off, every subpath typed', () => {
    const dir = join(docProject(), 'ts-node16-cjs')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n')
    writeFileSync(join(dir, 'main.ts'), MAIN)
    const tsc = typecheckDir(dir, { module: 'node16', moduleResolution: 'node16', skipLibCheck: false })
    assert.equal(tsc.status, 0, tsc.output)
  })
})
