/**
 * Named scenarios for doc blocks that need more than the generic runs: a block marked
 * `<!-- doctest: NAME -->` is run by `scenarios[NAME]`, which gets every block so marked,
 * in document order.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort, waitFor } from '../support/server-process.js'
import { startPostgres } from '../support/servers/postgres.js'
import { startRedis } from '../support/servers/redis.js'
import { type DocBlock, where } from './blocks.js'
import { checkConsole, get, startExample, waitListening } from './run-block.js'

export type Scenario = (blocks: DocBlock[]) => Promise<void>

function pick(blocks: DocBlock[], lang: string): DocBlock {
  const block = blocks.find((b) => b.lang === lang)
  assert.ok(block, `the scenario needs a ${lang} block`)
  return block
}

/**
 * README's Quick start, as written: against real PostgreSQL and Redis and a stand-in search
 * server. The process survives a PostgreSQL restart (57P01 on every pooled connection) and
 * /readyz recovers; with Redis down, the console block's output is what curl really prints.
 */
const quickstart: Scenario = async (blocks) => {
  const program = pick(blocks, 'ts')
  const session = pick(blocks, 'console')
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()])
  const search = createServer((_req, res) => res.end('{"status":"green"}'))
  await new Promise<void>((r) => search.listen(0, '127.0.0.1', r))
  const ports = { 9000: await freePort(), 8080: await freePort() }
  const example = startExample(program, {
    ports,
    env: {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      SEARCH_URL: `http://127.0.0.1:${(search.address() as AddressInfo).port}`,
    },
  })
  const readyz = (port = ports[9000]) => get(`http://127.0.0.1:${port}/readyz?verbose`)
  try {
    await waitListening(example, Object.values(ports), program)
    assert.deepEqual(await get(`http://127.0.0.1:${ports[8080]}/`), { status: 200, body: 'hello\n' })
    for (const port of Object.values(ports)) {
      const ready = await readyz(port)
      assert.equal(ready.status, 200, ready.body)
      assert.match(ready.body, /\[\+\]postgres ok\n\[\+\]redis ok\n\[\+\]search ok\n/)
    }

    // PostgreSQL goes away (fast shutdown: every connection gets 57P01) and comes back.
    await pg.process.stop()
    await waitFor('readiness to fail while PostgreSQL is down', async () => {
      const r = await readyz()
      return r.status === 503 && /\[-\]postgres failed: /.test(r.body)
    })
    await pg.process.start()
    await waitFor('readiness to recover after the restart', async () => (await readyz()).status === 200)
    assert.equal(example.child.exitCode, null, `the process died:\n${example.output()}`)
    assert.match(example.stderr(), /postgres pool: terminating connection due to administrator command/)

    // Redis down: the console block, as curl prints it.
    await redis.process.kill()
    await waitFor('the redis check to warn', async () => /\[!\]redis warn/.test((await readyz()).body))
    await checkConsole(session, {
      rewrite: (command) => command.replace('localhost:9000', `localhost:${ports[9000]}`),
      unrewrite: (output) => output.replaceAll(`127.0.0.1:${redis.port}`, 'cache:6379'),
    })
    assert.equal(example.child.exitCode, null, `the process died:\n${example.output()}`)
  } finally {
    await example.stop()
    search.close()
    await Promise.all([pg.stop(), redis.stop()])
  }
  assert.doesNotMatch(example.output(), /Unhandled|TypeError|ReferenceError/, where(program))
}

export const scenarios: Record<string, Scenario> = {
  quickstart,
}
