import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, statSync, utimesSync } from 'node:fs'
import { createServer } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Queue } from 'bullmq'
import { UsageError } from '../../src/cli/usage-error.js'
import { run } from '../../src/cli/worker.js'
import { activeResources } from '../support/faults.js'
import { type ManagedProcess, makeTempDir, refusedPort, sleep, waitFor } from '../support/server-process.js'
import { type RedisServer, startRedis } from '../support/servers/redis.js'
import { startFixture } from './fixture-process.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dir = makeTempDir('probekit-worker-cli')
const WORKER = 'worker@cli-test'
const QUEUE = 'jobs'
const files = {
  liveness: join(dir, 'worker.live'),
  readiness: join(dir, 'worker.ready'),
  lastWork: join(dir, 'worker.last-work'),
  blockMarker: join(dir, 'block-started'),
}

let redis: RedisServer
let queue: Queue
let worker: ManagedProcess

/** Runs the command in this process and returns its exit status and its one line. */
async function probekitWorker(...argv: string[]): Promise<{ code: number; line: string }> {
  let text = ''
  const code = await run(argv, { write: (chunk: string) => (text += chunk) })
  return { code, line: text }
}

/** The checks as a container runs them: liveness, ping with this worker's name, readiness. */
const defaults = () => [
  '--broker',
  redis.url,
  '--worker-name',
  WORKER,
  '--liveness-file',
  files.liveness,
  '--max-age',
  '1s',
  '--readiness-file',
  files.readiness,
  '--no-skip-readiness',
  '--ping-timeout',
  '2s',
]

async function startWorker(): Promise<ManagedProcess> {
  return startFixture(
    'worker-bullmq.ts',
    [],
    {
      REDIS_URL: redis.url,
      QUEUE,
      WORKER_NAME: WORKER,
      LIVENESS_FILE: files.liveness,
      READINESS_FILE: files.readiness,
      LAST_WORK_FILE: files.lastWork,
      BLOCK_MARKER: files.blockMarker,
      HEARTBEAT_MS: '200',
    },
    () => existsSync(files.readiness),
  )
}

describe('probekit worker against a real Redis and a real BullMQ worker', () => {
  before(async () => {
    redis = await startRedis()
    queue = new Queue(QUEUE, { connection: { url: redis.url } })
    worker = await startWorker()
  })
  after(async () => {
    redis?.process.thaw()
    await worker?.stop('SIGKILL')
    await queue?.close()
    await redis?.stop()
  })

  it('exits 0 for a healthy worker, saying what it checked on one line', async () => {
    const { code, line } = await probekitWorker(...defaults())
    assert.equal(code, 0, line)
    assert.match(
      line,
      /^ok event loop alive \(heartbeat \d\.\d s ago\); broker redis:\/\/127\.0\.0\.1:\d+ PONG in [\d.]+ ms; worker worker@cli-test is connected \(queue jobs\); ready\n$/,
    )
  })

  it('the probekit binary exits 0 for the healthy worker, 1 for a name that is not connected and 1 for a usage error', async () => {
    const bin = join(root, 'src/cli/bin.ts')
    const exec = promisify(execFile)
    // A generous ping timeout: this test is about exit statuses, and a spawned tsx process on a busy machine is slow.
    const argv = [...defaults(), '--ping-timeout', '10s']
    const ok = await exec(process.execPath, ['--import', 'tsx', bin, 'worker', ...argv], { cwd: root })
    assert.match(ok.stdout, /^ok event loop alive/)
    const failed = await exec(
      process.execPath,
      ['--import', 'tsx', bin, 'worker', ...argv, '--worker-name', 'worker@elsewhere'],
      { cwd: root },
    ).then(
      () => assert.fail('expected exit status 1'),
      (error: { code: number; stdout: string }) => error,
    )
    assert.equal(failed.code, 1)
    assert.match(failed.stdout, /^failed ping: worker worker@elsewhere is not connected/)
    const usage = await exec(process.execPath, ['--import', 'tsx', bin, 'worker', '--max-age', 'soon'], {
      cwd: root,
    }).then(
      () => assert.fail('expected exit status 1'),
      (error: { code: number; stdout: string }) => error,
    )
    assert.equal(usage.code, 1, 'a usage error exits 1, never 2')
    assert.match(usage.stdout, /^probekit worker: usage error: --max-age "soon" is not a duration/)
    const version = await exec(process.execPath, ['--import', 'tsx', bin, 'worker', '--version'], { cwd: root })
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
  })

  it('takes a --ping-timeout longer than one timer holds without a warning on stderr', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const { code, line } = await probekitWorker(...defaults(), '--ping-timeout', '30d')
      assert.equal(code, 0, line)
      await sleep(50) // warnings are emitted on the next tick
      assert.deepEqual(
        warnings.map((w) => w.name),
        [],
      )
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('fails the ping naming a worker that is not connected, and lists the workers that are', async () => {
    const { code, line } = await probekitWorker(...defaults(), '--worker-name', 'worker@nobody')
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed ping: worker worker@nobody is not connected to redis:\/\/127\.0\.0\.1:\d+; connected: worker@cli-test \(queue jobs\)\n$/,
    )
  })

  it('takes the worker name from PROBEKIT_WORKER_NAME when --worker-name is not given', async () => {
    const argv = defaults().filter((a, i, all) => a !== '--worker-name' && all[i - 1] !== '--worker-name')
    const saved = process.env.PROBEKIT_WORKER_NAME
    process.env.PROBEKIT_WORKER_NAME = WORKER
    try {
      assert.equal((await probekitWorker(...argv)).code, 0)
      process.env.PROBEKIT_WORKER_NAME = 'worker@from-env'
      assert.match((await probekitWorker(...argv)).line, /^failed ping: worker worker@from-env is not connected/)
    } finally {
      if (saved === undefined) delete process.env.PROBEKIT_WORKER_NAME
      else process.env.PROBEKIT_WORKER_NAME = saved
    }
  })

  it('with --queue, counts the worker only on that queue', async () => {
    assert.equal((await probekitWorker(...defaults(), '--queue', QUEUE)).code, 0)
    const { code, line } = await probekitWorker(...defaults(), '--queue', 'invoices')
    assert.equal(code, 1)
    assert.match(line, /^failed ping: worker worker@cli-test is not connected to redis:\/\/\S+ on queue invoices; /)
  })

  it("counts the worker only on the broker URL's database (CLIENT LIST names every database's clients)", async () => {
    const argv = defaults()
    const at = argv.indexOf('--broker') + 1
    argv[at] = `${redis.url}/0`
    assert.equal((await probekitWorker(...argv)).code, 0)
    argv[at] = `${redis.url}/3`
    const other = await probekitWorker(...argv)
    assert.equal(other.code, 1)
    assert.match(
      other.line,
      /^failed ping: worker worker@cli-test is not connected to redis:\/\/127\.0\.0\.1:\d+\/3; connected: worker@cli-test \(queue jobs, database 0\)\n$/,
    )
    argv[at] = `${redis.url}/99`
    const missing = await probekitWorker(...argv)
    assert.equal(missing.code, 1)
  })

  it('fails liveness while a job blocks the event loop past --max-age, and passes again after', async () => {
    await queue.add('block', { blockMs: 4000 })
    await waitFor('the blocking job to start', () => existsSync(files.blockMarker), 10_000)
    await sleep(1500)
    const { code, line } = await probekitWorker(...defaults())
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed liveness: \S+worker\.live was last touched \d\.\d s ago \(max age 1\.0 s\): the worker's event loop is blocked or the worker has stopped\n$/,
    )
    await waitFor(
      'the worker to be healthy again',
      async () => (await probekitWorker(...defaults())).code === 0,
      15_000,
      200,
    )
  })

  it('fails "last work" when no job completed within --last-work-max-age, and passes once one does', async () => {
    const lastWork = ['--last-work-file', files.lastWork, '--last-work-max-age', '5m']
    assert.equal((await probekitWorker(...defaults(), ...lastWork)).code, 0)
    // Ten minutes without a completed job.
    const tenMinutesAgo = new Date(Date.now() - 600_000)
    utimesSync(files.lastWork, tenMinutesAgo, tenMinutesAgo)
    const { code, line } = await probekitWorker(...defaults(), ...lastWork)
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed last work: \S+worker\.last-work was last touched 600 s ago \(max age 300 s\): the worker has completed no job since\n$/,
    )
    await queue.add('quick', {})
    await waitFor('the job to complete', () => Date.now() - statSync(files.lastWork).mtimeMs < 60_000, 10_000)
    const healthy = await probekitWorker(...defaults(), ...lastWork)
    assert.equal(healthy.code, 0, healthy.line)
    assert.match(healthy.line, /; last work \d\.\d s ago\n$/)
  })

  it('fails the ping within --ping-timeout when Redis is frozen, leaving nothing open', async () => {
    // A finished fs request (an earlier check's stat) stays listed until the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    const baseline = activeResources()
    redis.process.freeze()
    try {
      const started = performance.now()
      const { code, line } = await probekitWorker(...defaults(), '--skip-event-loop-liveness', '--ping-timeout', '1s')
      const elapsedMs = performance.now() - started
      assert.equal(code, 1)
      assert.match(line, /^failed ping: redis:\/\/127\.0\.0\.1:\d+: timed out after 1000 ms\n$/)
      assert.ok(elapsedMs < 1000 + 1000, `answered after ${Math.round(elapsedMs)} ms`)
      await waitFor(
        'the connection to the frozen Redis to be released',
        () => activeResources().count <= baseline.count,
        // ioredis ends a connection it could not close cleanly with a 2 s timer of its own, and
        // a timer of the clients facing the frozen Redis was seen to outlive 3 s (gone by 5 s).
        6000,
      ).catch(() => assert.deepEqual(activeResources().byType, baseline.byType))
    } finally {
      redis.process.thaw()
    }
    await waitFor(
      'the worker to be healthy again',
      async () => (await probekitWorker(...defaults())).code === 0,
      20_000,
      200,
    )
  })

  it('fails the ping when nothing listens on the broker port, with the password redacted', async () => {
    const port = await refusedPort()
    const { code, line } = await probekitWorker(
      '--skip-event-loop-liveness',
      '--broker',
      `redis://:hunter2secret@127.0.0.1:${port}/0`,
      '--worker-name',
      WORKER,
    )
    assert.equal(code, 1)
    assert.equal(line, `failed ping: redis://:***@127.0.0.1:${port}/0: connection refused (ECONNREFUSED)\n`)
  })

  it("fails the ping at once on a broker port that is no Redis (an HTTP server, an SSH banner), saying so, not with the driver's parser error", async () => {
    const http = createServer((_req, res) => res.end('hello'))
    // Like sshd, it sends its banner and reads nothing until the client sends its own.
    const accepted = new Set<Socket>()
    const ssh = createNetServer((socket) => {
      accepted.add(socket)
      socket.on('error', () => {})
      socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n')
    })
    await Promise.all([
      new Promise<void>((r) => http.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => ssh.listen(0, '127.0.0.1', r)),
    ])
    try {
      for (const [server, byte] of [
        [http, 'H'],
        [ssh, 'S'],
      ] as const) {
        const { port } = server.address() as AddressInfo
        const started = performance.now()
        const { code, line } = await probekitWorker(
          '--skip-event-loop-liveness',
          '--ping-timeout',
          '20s',
          '--broker',
          `redis://127.0.0.1:${port}/0`,
          '--worker-name',
          WORKER,
        )
        assert.equal(code, 1)
        assert.equal(
          line,
          `failed ping: redis://127.0.0.1:${port}/0: not a Redis server (unexpected reply "${byte}")\n`,
        )
        // Not at the deadline, nor ~2 s later when ioredis gives up a connect it cannot read:
        // the parser's error ends the connection at once.
        assert.ok(performance.now() - started < 1500, `took ${Math.round(performance.now() - started)} ms`)
      }
    } finally {
      http.closeAllConnections()
      await new Promise((r) => http.close(r))
      for (const socket of accepted) socket.destroy()
      await new Promise((r) => ssh.close(r))
    }
  })

  it('reports a stopped worker: readiness file gone, and no longer connected to the broker', async () => {
    worker.child?.kill('SIGUSR2')
    await waitFor('the worker to close', () => worker.recentOutput.includes('closed'), 15_000)
    const readiness = await probekitWorker(...defaults(), '--skip-ping')
    assert.equal(readiness.code, 1)
    assert.match(
      readiness.line,
      /^failed readiness: \S+worker\.ready does not exist: the worker is not ready \(starting, paused or stopped\)\n$/,
    )
    const ping = await probekitWorker(...defaults(), '--skip-event-loop-liveness')
    assert.equal(ping.code, 1)
    assert.match(
      ping.line,
      /^failed ping: worker worker@cli-test is not connected to redis:\/\/\S+; no named BullMQ worker is connected\n$/,
    )
    await worker.stop('SIGKILL')
  })

  for (const [how, job, exited] of [
    ['process.exit()', { exitCode: 9 }, (code: number | null) => code === 9],
    ['an uncaught exception', { uncaught: true }, (code: number | null) => code === 1],
  ] as const) {
    it(`reports a worker process that ended by ${how}: readiness file gone`, async () => {
      worker = await startWorker()
      assert.equal((await probekitWorker(...defaults(), '--skip-ping')).code, 0)
      await queue.add('crash', job)
      await waitFor('the worker to exit', () => worker.child?.exitCode != null && exited(worker.child.exitCode), 15_000)
      const { code, line } = await probekitWorker(...defaults(), '--skip-ping', '--skip-event-loop-liveness')
      assert.equal(code, 1)
      assert.match(line, /^failed readiness: \S+ does not exist/)
    })
  }
})

describe('probekit worker on its own', () => {
  const dir2 = makeTempDir('probekit-worker-cli-files')

  it('checks the liveness file only when the others are skipped or opt-in', async () => {
    const file = join(dir2, 'fresh.live')
    const { startHeartbeat } = await import('../../src/worker/heartbeat.js')
    const heartbeat = startHeartbeat({ file, intervalMs: 1000, logger: false })
    heartbeat.stop()
    const { code, line } = await probekitWorker('--skip-ping', '--liveness-file', file)
    assert.equal(code, 0)
    assert.match(line, /^ok event loop alive \(heartbeat \d\.\d s ago\)\n$/)
  })

  it('fails a liveness file that does not exist, saying what that means', async () => {
    const { code, line } = await probekitWorker('--skip-ping', '--liveness-file', join(dir2, 'missing.live'))
    assert.equal(code, 1)
    assert.match(line, /^failed liveness: \S+missing\.live does not exist; the worker has not started its heartbeat/)
  })

  it('says a directory at a file’s path is one, not that the worker never wrote it', async () => {
    const path = join(dir2, 'a-directory')
    mkdirSync(path)
    const live = await probekitWorker('--skip-ping', '--liveness-file', path)
    assert.equal(live.code, 1)
    assert.match(
      live.line,
      /^failed liveness: \S+a-directory is a directory, not a file; the worker cannot write its heartbeat there: remove it\n$/,
    )
    const ready = await probekitWorker(
      '--skip-ping',
      '--skip-event-loop-liveness',
      '--no-skip-readiness',
      '--readiness-file',
      path,
    )
    assert.equal(ready.code, 1)
    assert.match(
      ready.line,
      /^failed readiness: \S+a-directory is a directory, not a file; the worker cannot write it there: remove it\n$/,
    )
  })

  it('accepts a max age in seconds, as maykin-common does, or as a duration', async () => {
    const file = join(dir2, 'aged.live')
    const { touchFile } = await import('../../src/worker/touch.js')
    touchFile(file)
    const ninetySecondsAgo = new Date(Date.now() - 90_000)
    utimesSync(file, ninetySecondsAgo, ninetySecondsAgo)
    assert.equal((await probekitWorker('--skip-ping', '--liveness-file', file)).code, 1, 'default max age is 70 s')
    assert.equal((await probekitWorker('--skip-ping', '--liveness-file', file, '--max-age', '120')).code, 0)
    assert.equal((await probekitWorker('--skip-ping', '--liveness-file', file, '--max-age=2m')).code, 0)
    assert.equal((await probekitWorker('--skip-ping', '--liveness-file', file, '--max-age', '80s')).code, 1)
  })

  it('fails a liveness or last-work file dated in the future, beyond 2 s of clock slack', async () => {
    const { touchFile } = await import('../../src/worker/touch.js')
    const file = join(dir2, 'future.live')
    touchFile(file)
    // touch -d '+1 hour': the clock stepped back, or something else dated the file.
    const inAnHour = new Date(Date.now() + 3_600_000)
    utimesSync(file, inAnHour, inAnHour)
    const ahead = await probekitWorker('--skip-ping', '--liveness-file', file)
    assert.equal(ahead.code, 1)
    assert.match(
      ahead.line,
      /^failed liveness: \S+future\.live is dated (3600 s|1 h 0 min) in the future; the clock stepped back or something else wrote it\n$/,
    )
    const lastWork = await probekitWorker(
      '--skip-ping',
      '--skip-event-loop-liveness',
      '--last-work-file',
      file,
      '--last-work-max-age',
      '15m',
    )
    assert.equal(lastWork.code, 1)
    assert.match(lastWork.line, /^failed last work: \S+future\.live is dated .* in the future/)
    // A second ahead is rounding between the writer's clock and the reader's, not a step.
    const inASecond = new Date(Date.now() + 1000)
    utimesSync(file, inASecond, inASecond)
    const slack = await probekitWorker('--skip-ping', '--liveness-file', file)
    assert.equal(slack.code, 0, slack.line)
    assert.match(slack.line, /^ok event loop alive \(heartbeat 0\.0 s ago\)\n$/)
  })

  it('says so when every check is skipped', async () => {
    const { code, line } = await probekitWorker('--skip-ping', '--skip-event-loop-liveness')
    assert.equal(code, 0)
    assert.equal(line, 'ok: every check is skipped, nothing was checked\n')
  })

  it('throws usage errors that name the input and the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /unknown option "--bogus"/],
      [['--skip-pnig'], /unknown option "--skip-pnig"; did you mean --skip-ping\?$/],
      [['--max-age', '-5'], /^--max-age must be a positive duration such as 2s or 500ms, got -5$/],
      [['--max-age', '--skip-ping'], /--max-age needs a value/],
      [['--max-age', 'soon'], /--max-age "soon" is not a duration; use a number of seconds/],
      [['--max-age'], /--max-age needs a value/],
      [['--broker', 'http://redis:6379'], /not a Redis URL; .*\(redis:\/\/ or rediss:\/\/\), or use --skip-ping/],
      [['--broker', 'not a url'], /--broker "not a url" is not a URL; use e\.g\. redis:\/\/redis:6379\/0/],
      [
        ['--broker', 'redis://redis:6379/queues'],
        /names the database "queues"; the path of a Redis URL is the database number/,
      ],
      [['--broker', 'redis://redis:6379/0/x'], /names the database "0\/x"/],
      [['--last-work-file', '/tmp/x'], /--last-work-file needs --last-work-max-age, e\.g\. --last-work-max-age 15m/],
      [['--last-work-max-age', '5m'], /--last-work-max-age needs --last-work-file/],
      [['--worker-name', 'two words'], /contains whitespace/],
      [['--worker-name', 'wörker@pod'], /--worker-name "wörker@pod" has a character a Redis client name cannot hold/],
      [['--skip-ping=yes'], /--skip-ping takes no value/],
      [['extra'], /unexpected argument "extra"; "probekit worker" takes only options/],
    ]
    for (const [argv, message] of cases) {
      await assert.rejects(run(argv, { write: () => {} }), (error: Error) => {
        assert.ok(error instanceof UsageError, `${argv.join(' ')}: ${error.message}`)
        assert.match(error.message, message)
        return true
      })
    }
  })

  it('names the environment variable, not a flag the user never typed, when the bad value came from it', async () => {
    const saved = { broker: process.env.PROBEKIT_BROKER, name: process.env.PROBEKIT_WORKER_NAME }
    try {
      process.env.PROBEKIT_BROKER = 'http://redis:6379'
      await assert.rejects(
        run([], { write: () => {} }),
        /^UsageError: \$PROBEKIT_BROKER http:\/\/redis:6379 is not a Redis URL/,
      )
      delete process.env.PROBEKIT_BROKER
      process.env.PROBEKIT_WORKER_NAME = 'two words'
      await assert.rejects(
        run(['--skip-ping'], { write: () => {} }),
        /^UsageError: \$PROBEKIT_WORKER_NAME "two words" contains whitespace/,
      )
    } finally {
      for (const [key, value] of [
        ['PROBEKIT_BROKER', saved.broker],
        ['PROBEKIT_WORKER_NAME', saved.name],
      ] as const) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
  })

  it('never shows a broker password in a usage error', async () => {
    await assert.rejects(run(['--broker', 'amqp://user:pa55word@host'], { write: () => {} }), (error: Error) => {
      assert.doesNotMatch(error.message, /pa55word/)
      return true
    })
  })

  it('prints help with examples', async () => {
    const help = await probekitWorker('--help')
    assert.equal(help.code, 0)
    assert.match(help.line, /Examples:/)
    assert.match(help.line, /--no-skip-readiness/)
  })
})

describe('probekit worker against a password-protected Redis', () => {
  let secured: RedisServer
  before(async () => {
    secured = await startRedis({ password: 'right-Pa55word' })
  })
  after(async () => {
    await secured?.stop()
  })

  it('fails the ping on a wrong password with the reason Redis gave, and never prints the password', async () => {
    const broker = `redis://:wrong-Pa55word@127.0.0.1:${secured.port}/0`
    const { code, line } = await probekitWorker(
      '--skip-event-loop-liveness',
      '--broker',
      broker,
      '--ping-timeout',
      '2s',
    )
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed ping: redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: authentication failed \(WRONGPASS\): check the user and password\n$/,
    )
    assert.doesNotMatch(line, /Pa55word/)
  })

  it('reaches the worker check with the right password', async () => {
    const broker = `redis://:right-Pa55word@127.0.0.1:${secured.port}/0`
    const { code, line } = await probekitWorker(
      '--skip-event-loop-liveness',
      '--broker',
      broker,
      '--worker-name',
      'worker@absent',
    )
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed ping: worker worker@absent is not connected to redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0; no named BullMQ worker is connected\n$/,
    )
  })
})

describe('probekit worker with a Redis user that may not list clients', () => {
  let restricted: RedisServer
  before(async () => {
    restricted = await startRedis({ args: ['--user', 'limited', 'on', '>limited-pw', '~*', '&*', '+@all', '-client'] })
  })
  after(async () => {
    await restricted?.stop()
  })

  it('fails the ping saying CLIENT LIST is refused and how to fix it', async () => {
    const broker = `redis://limited:limited-pw@127.0.0.1:${restricted.port}/0`
    const { code, line } = await probekitWorker('--skip-event-loop-liveness', '--broker', broker)
    assert.equal(code, 1)
    assert.match(
      line,
      /^failed ping: redis:\/\/limited:\*\*\*@127\.0\.0\.1:\d+\/0: NOPERM .*client\|list.*; finding the worker needs CLIENT LIST \(grant the broker user \+client\|list, or use --skip-ping\)\n$/,
    )
  })
})
