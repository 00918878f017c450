import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { peerKey, startApi } from '../../src/monitor/api.js'
import { TokenFile } from '../../src/monitor/auth.js'
import { Monitor } from '../../src/monitor/monitor.js'
import { openStore } from '../../src/monitor/store/index.js'
import { type Answer, type MonitorProcess, PROBEKIT_BIN, request, spawnMonitor } from '../support/monitor-process.js'
import { makeTempDir, sleep, waitFor } from '../support/server-process.js'

// Who may read and write a real `probekit monitor` process, asked over real HTTP.
const GLOBAL = 'global-token-0123456789abcdef'
const ROTATED = 'rotated-token-fedcba9876543210'
const BACKUP = 'backup-secret-0123456789'
const NIGHTLY = 'nightly-secret-0123456789'
const BEARER = { authorization: `Bearer ${GLOBAL}` }

const dir = makeTempDir('auth')
const tokenFile = join(dir, 'tokens')
const manifest = join(dir, 'jobs.yaml')
writeFileSync(tokenFile, `# monitor tokens\n\n${GLOBAL}\n`)
writeFileSync(join(dir, 'nightly.token'), `${NIGHTLY}\n`)
writeFileSync(
  manifest,
  [
    'id: jobs',
    'node: n1',
    'checks:',
    `  - { name: backup, type: push, period: 1h, token: "${BACKUP}" }`,
    '  - { name: nightly, type: push, period: 1h, token_file: nightly.token }',
    '  - { name: plain, type: push, period: 1h }',
    '',
  ].join('\n'),
)

/** A check's state, read with the global token. */
async function stateOf(m: MonitorProcess, check: string): Promise<string> {
  const answer = await request(`${m.url}/v1/checks/n1/jobs/${check}`, { headers: BEARER })
  assert.equal(answer.status, 200, answer.error)
  return (answer.body as { state: string }).state
}

/**
 * A push that other tests of the file may have brought to the check's rate limit (10 a
 * second): waits out a 429's Retry-After, as a client should, then asks again.
 */
async function pushPastRateLimit(url: string, headers: Record<string, string>): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await request(url, { method: 'POST', headers })
    if (answer.status !== 429 || attempt === 3) return answer
    await sleep(Number(answer.headers['retry-after'] ?? 1) * 1000)
  }
}

/** Waits for a line the monitor prints after its API line (output arrives in chunks). */
async function printed(m: MonitorProcess, line: RegExp): Promise<void> {
  await waitFor(`the monitor to print ${line}`, () => line.test(m.output()), 10_000).catch(() =>
    assert.match(m.output(), line),
  )
}

function assertUnauthorized(answer: { status: number; headers: Record<string, unknown>; error: string }, what: string) {
  assert.equal(answer.status, 401, `${what}: ${answer.status} ${answer.error}`)
  assert.match(String(answer.headers['www-authenticate']), /^Bearer /, what)
  assert.match(answer.error, /^[^\n]+$/, `${what}: one sentence`)
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROBEKIT_BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

describe('a monitor started with --auth-token-file', () => {
  let m: MonitorProcess

  before(async () => {
    m = await spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '127.0.0.1:0',
      '--auth-token-file',
      tokenFile,
      '--allowed-host',
      'monitor.example.com',
      manifest,
    ]).started()
    await printed(m, /access: 1 bearer token from .*tokens for writes and reads/)
  })
  after(async () => {
    assert.equal(await m?.stop(), 0)
  })

  it('answers every read of /v1, /metrics and the event stream with 401 and one sentence without a valid token, and 200 with one', async () => {
    for (const path of ['/v1', '/v1/checks', '/v1/inspect', '/v1/transitions', '/metrics', '/v1/events', '/nowhere']) {
      const none = await request(`${m.url}${path}`)
      assertUnauthorized(none, `${path} without a token`)
      assert.match(none.error, /Authorization: Bearer TOKEN.*--auth-token-file/)
      const wrong = await request(`${m.url}${path}`, { headers: { authorization: 'Bearer not-the-token-0123456789' } })
      assertUnauthorized(wrong, `${path} with a wrong token`)
      assert.match(String(wrong.headers['www-authenticate']), /error="invalid_token"/)
      const basic = await request(`${m.url}${path}`, { headers: { authorization: `Basic ${btoa(`x:${GLOBAL}`)}` } })
      assertUnauthorized(basic, `${path} with Basic`)
    }
    for (const path of ['/v1/checks', '/v1/inspect', '/metrics']) {
      const ok = await request(`${m.url}${path}`, { headers: BEARER })
      assert.equal(ok.status, 200, `${path}: ${ok.error}`)
    }
    assert.match(JSON.stringify((await request(`${m.url}/v1/inspect`, { headers: BEARER })).body), /"backup"/)
    // The event stream, with the token in the header (as the dashboard sends it).
    const abort = new AbortController()
    const res = await fetch(`${m.url}/v1/events`, { headers: BEARER, signal: abort.signal })
    assert.equal(res.status, 200)
    const reader = res.body?.getReader()
    const first = await reader?.read()
    assert.match(new TextDecoder().decode(first?.value), /event: snapshot/)
    abort.abort()
  })

  it("keeps its own /livez, /readyz, /healthz and the dashboard's files open", async () => {
    for (const path of ['/livez', '/readyz', '/healthz', '/', '/assets/dashboard.js', '/assets/dashboard.css']) {
      assert.equal((await request(`${m.url}${path}`)).status, 200, path)
    }
  })

  it('needs a token for every write: a push without one is 401 and changes nothing; a global token pushes to any check', async () => {
    const refused = await request(`${m.url}/v1/push/plain`, { method: 'POST', body: 'ran' })
    assertUnauthorized(refused, 'a push without a token')
    assert.equal(await stateOf(m, 'plain'), 'unknown')
    const accepted = await request(`${m.url}/v1/push/plain`, { method: 'POST', headers: BEARER })
    assert.equal(accepted.status, 200, accepted.error)
    assert.equal(await stateOf(m, 'plain'), 'passing')
    // A check's name is not revealed to a caller without a credential.
    assertUnauthorized(await request(`${m.url}/v1/push/no-such-check`, { method: 'POST' }), 'an unknown push check')
    assert.equal((await request(`${m.url}/v1/push/no-such-check`, { method: 'POST', headers: BEARER })).status, 404)
    // A write route added later is guarded by its method, without a line of its own.
    assertUnauthorized(await request(`${m.url}/v1/silences`, { method: 'POST', body: '{}' }), 'POST /v1/silences')
    assertUnauthorized(await request(`${m.url}/v1/checks`, { method: 'DELETE' }), 'DELETE /v1/checks')
  })

  it("accepts a push check's own token for that check only: as a bearer token, as ?token=, and from token_file", async () => {
    const bearer = await request(`${m.url}/v1/push/backup/fail`, {
      method: 'POST',
      headers: { authorization: `Bearer ${BACKUP}` },
      body: 'disk full',
    })
    assert.equal(bearer.status, 200, bearer.error)
    assert.equal(await stateOf(m, 'backup'), 'critical')
    const query = await request(`${m.url}/v1/push/backup?token=${BACKUP}`, { method: 'POST' })
    assert.equal(query.status, 200, query.error)
    assert.equal(await stateOf(m, 'backup'), 'passing')
    const fromFile = await request(`${m.url}/v1/push/jobs/nightly?token=${NIGHTLY}`, { method: 'POST' })
    assert.equal(fromFile.status, 200, fromFile.error)
    assert.equal(await stateOf(m, 'nightly'), 'passing')

    // The backup's secret does not speak for another check, nor read anything.
    const before = await stateOf(m, 'plain')
    for (const init of [
      { method: 'POST', headers: { authorization: `Bearer ${BACKUP}` } },
      { method: 'POST', url: `?token=${BACKUP}` },
    ]) {
      const other = await request(`${m.url}/v1/push/plain/fail${init.url ?? ''}`, init)
      assertUnauthorized(other, 'the backup token for another check')
      assert.match(other.error, /does not speak for push check "plain"/)
    }
    assert.equal(await stateOf(m, 'plain'), before)
    assertUnauthorized(
      await request(`${m.url}/v1/push/nightly?token=${BACKUP}`, { method: 'POST' }),
      "backup's token for nightly",
    )
    assertUnauthorized(
      await request(`${m.url}/v1/checks`, { headers: { authorization: `Bearer ${BACKUP}` } }),
      'a push token reading /v1/checks',
    )
    // A global token is not taken from the query string (it would end up in access logs).
    assertUnauthorized(
      await request(`${m.url}/v1/push/plain?token=${GLOBAL}`, { method: 'POST' }),
      'the global token as ?token=',
    )
  })

  it('changes no state on a GET unless it carries the secret', async () => {
    assert.equal(await stateOf(m, 'backup'), 'passing')
    const plain = await request(`${m.url}/v1/push/backup/fail`)
    assertUnauthorized(plain, 'a GET push without a secret')
    assert.match(plain.error, /token/)
    assert.equal((await request(`${m.url}/v1/push/backup/fail`, { method: 'HEAD' })).status, 405)
    assert.equal(await stateOf(m, 'backup'), 'passing')
    // HEAD never writes, secret or not (`curl -I …?token=` is a look, not a push).
    const head = await request(`${m.url}/v1/push/backup/fail?token=${BACKUP}`, { method: 'HEAD' })
    assert.equal(head.status, 405)
    assert.equal(head.headers.allow, 'POST, PUT, GET')
    assert.equal(await stateOf(m, 'backup'), 'passing')
    const withSecret = await request(`${m.url}/v1/push/backup/fail?token=${BACKUP}`)
    assert.equal(withSecret.status, 200, withSecret.error)
    assert.equal(await stateOf(m, 'backup'), 'critical')
  })

  it('refuses a Host that is not one of its names with 421, and answers IP literals, localhost and --allowed-host names', async () => {
    for (const host of ['evil.example', 'evil.example:8008', 'monitor.example.com.evil.example', 'localhost.evil']) {
      for (const path of ['/v1/checks', '/', '/metrics']) {
        const answer = await request(`${m.url}${path}`, { headers: { ...BEARER, host } })
        assert.equal(answer.status, 421, `${host} ${path}`)
        assert.match(answer.error, /is not a name of this monitor; .*--allowed-host/)
      }
      const push = await request(`${m.url}/v1/push/plain/fail`, { method: 'POST', headers: { ...BEARER, host } })
      assert.equal(push.status, 421)
    }
    assert.equal(await stateOf(m, 'plain'), 'passing')
    const port = new URL(m.url).port
    for (const host of [
      `10.0.0.7:${port}`,
      '192.168.1.20',
      `[::1]:${port}`,
      `[fd00::7]:${port}`,
      `localhost:${port}`,
      'web.localhost',
      'monitor.example.com',
      'MONITOR.EXAMPLE.COM.',
    ]) {
      const answer = await request(`${m.url}/v1/checks`, { headers: { ...BEARER, host } })
      assert.equal(answer.status, 200, `${host}: ${answer.error}`)
    }
    // The monitor's own health answers whatever the Host (a kubelet sends the pod's IP; a name is harmless here).
    assert.equal((await request(`${m.url}/livez`, { headers: { host: 'evil.example' } })).status, 200)
    assert.equal((await request(`${m.url}/readyz`, { headers: { host: 'evil.example' } })).status, 200)
  })

  it('answers two Host headers, an empty Host or none, or two Authorization headers with 400, and a foreign absolute-form target with 421; /livez stays open', async () => {
    const port = Number(new URL(m.url).port)
    const raw = (head: string): Promise<string> =>
      new Promise((resolve, reject) => {
        let text = ''
        const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n`))
        socket.on('data', (c: Buffer) => {
          text += c.toString()
        })
        socket.on('end', () => resolve(text))
        socket.on('error', reject)
      })
    const auth = `Authorization: Bearer ${GLOBAL}\r\nConnection: close\r\n`
    const host = `Host: 127.0.0.1:${port}\r\n`
    assert.match(
      await raw(`GET /v1/checks HTTP/1.1\r\n${host}Host: evil.example\r\n${auth}`),
      /^HTTP\/1\.1 400 [\s\S]*one Host header/,
    )
    assert.match(await raw(`GET /v1/checks HTTP/1.1\r\nHost:\r\n${auth}`), /^HTTP\/1\.1 400 [\s\S]*needs a Host header/)
    // Two credentials, the first valid: which one a proxy in front read is anyone's guess.
    assert.match(
      await raw(`GET /v1/checks HTTP/1.1\r\n${host}${auth}Authorization: Bearer someone-else-0123456789\r\n`),
      /^HTTP\/1\.1 400 [\s\S]*one Authorization header/,
    )
    assert.match(await raw(`GET /v1/checks HTTP/1.0\r\n${auth}`), /^HTTP\/1\.1 400 [\s\S]*needs a Host header/)
    assert.match(
      await raw(`GET http://evil.example/v1/checks HTTP/1.1\r\n${host}${auth}`),
      /^HTTP\/1\.1 421 [\s\S]*\\"evil\.example\\" is not a name of this monitor/,
    )
    assert.match(await raw(`GET http://127.0.0.1:${port}/v1/checks HTTP/1.1\r\n${host}${auth}`), /^HTTP\/1\.1 200 /)
    assert.match(await raw('GET /livez HTTP/1.0\r\n'), /^HTTP\/1\.1 200 /)
  })

  it('answers wrong tokens past 20 a second from one address with 429 and Retry-After, and still accepts every valid credential from it', async () => {
    const wrong = { authorization: 'Bearer wrong-token-0123456789abcdef' }
    // Sent at once, so the burst empties the address's bucket however slow the machine is.
    const statuses = (
      await Promise.all(Array.from({ length: 40 }, () => request(`${m.url}/v1/checks`, { headers: wrong })))
    ).map((a) => a.status)
    assert.ok(statuses.includes(401))
    assert.ok(statuses.includes(429), `statuses ${statuses.join(' ')}`)
    const limited = await request(`${m.url}/v1/checks`, { headers: wrong })
    assert.equal(limited.status, 429)
    assert.match(String(limited.headers['retry-after']), /^\d+$/)
    assert.match(limited.error, /too many wrong credentials from this address/)
    // Held back, the address still gets in with a valid credential: behind a proxy every
    // client shares it, and a stranger's wrong guesses must not lock the operators out.
    assert.equal((await request(`${m.url}/v1/checks`, { headers: BEARER })).status, 200)
    assert.equal((await request(`${m.url}/metrics`, { headers: BEARER })).status, 200)
    const pushed = await pushPastRateLimit(`${m.url}/v1/push/plain`, BEARER)
    assert.equal(pushed.status, 200, pushed.error)
    const own = await pushPastRateLimit(`${m.url}/v1/push/nightly?token=${NIGHTLY}`, {})
    assert.equal(own.status, 200, own.error)
    // … while its wrong ones stay held back for the whole Retry-After announced, on every route.
    assert.equal((await request(`${m.url}/v1/checks`, { headers: wrong })).status, 429)
    assert.equal((await request(`${m.url}/v1/push/nightly?token=${BACKUP}`, { method: 'POST' })).status, 429)
    // A request without a credential, and the health routes, are not held back.
    assert.equal((await request(`${m.url}/v1/checks`)).status, 401)
    assert.equal((await request(`${m.url}/livez`)).status, 200)
    await waitFor(
      'the limit to pass',
      async () => (await request(`${m.url}/v1/checks`, { headers: wrong })).status === 401,
      10_000,
    )
  })

  it('answers every right-token scrape while a client on the same address floods wrong tokens (the proxy case)', async () => {
    const wrong = { authorization: 'Bearer wrong-token-0123456789abcdef' }
    const until = Date.now() + 1500
    const flooded: number[] = []
    const flood = (async () => {
      while (Date.now() < until) {
        const burst = Array.from({ length: 10 }, () => request(`${m.url}/v1/checks`, { headers: wrong }))
        flooded.push(...(await Promise.all(burst)).map((a) => a.status))
        await sleep(100)
      }
    })()
    const scrapes: number[] = []
    while (Date.now() < until) {
      scrapes.push((await request(`${m.url}/metrics`, { headers: BEARER })).status)
      await sleep(250)
    }
    await flood
    assert.ok(flooded.includes(429), `the flood was not held back: ${flooded.join(' ')}`)
    assert.deepEqual(
      scrapes.filter((status) => status !== 200),
      [],
    )
    await waitFor(
      'the limit to pass',
      async () => (await request(`${m.url}/v1/checks`, { headers: wrong })).status === 401,
      10_000,
    )
  })

  it('refuses a write from a foreign Origin with 403, and accepts its own origin and its allowed names', async () => {
    const host = new URL(m.url).host
    for (const origin of [
      'http://evil.example',
      'null',
      `http://${host.replace(/:\d+$/, ':1')}`,
      'file://',
      // The listener speaks plain HTTP: the same host under https:// is another origin.
      `https://${host}`,
    ]) {
      const answer = await request(`${m.url}/v1/push/plain/fail`, { method: 'POST', headers: { ...BEARER, origin } })
      assert.equal(answer.status, 403, origin)
      assert.match(answer.error, /is refused; only the monitor's own pages may write from a browser/)
    }
    assert.equal(await stateOf(m, 'plain'), 'passing')
    const own = await pushPastRateLimit(`${m.url}/v1/push/plain`, { ...BEARER, origin: m.url })
    assert.equal(own.status, 200, own.error)
    const proxied = await pushPastRateLimit(`${m.url}/v1/push/plain`, {
      ...BEARER,
      host: 'monitor.example.com',
      origin: 'https://monitor.example.com',
    })
    assert.equal(proxied.status, 200, proxied.error)
    // Reads are not writes: a foreign Origin may read with a token (the browser keeps the answer from that page).
    assert.equal(
      (await request(`${m.url}/v1/checks`, { headers: { ...BEARER, origin: 'http://evil.example' } })).status,
      200,
    )
  })

  it("holds a write's Origin to the Host's name and port: an allowed name's other ports and other names are foreign", async () => {
    const port = new URL(m.url).port
    const refused: [host: string, origin: string][] = [
      ['monitor.example.com', 'http://monitor.example.com:8080'],
      ['monitor.example.com', 'https://monitor.example.com:4443'],
      ['monitor.example.com:4443', 'https://monitor.example.com'],
      ['monitor.example.com:80', 'https://monitor.example.com'],
      // An allowed name is not an origin of its own: the page must be where the request went.
      [`127.0.0.1:${port}`, 'https://monitor.example.com'],
      [`127.0.0.1:${port}`, `http://localhost:${port}`],
      [`localhost:${port}`, 'http://localhost:3000'],
      [`localhost:${port}`, 'https://localhost'],
    ]
    for (const [host, origin] of refused) {
      const answer = await request(`${m.url}/v1/push/plain/fail`, {
        method: 'POST',
        headers: { ...BEARER, host, origin },
      })
      assert.equal(answer.status, 403, `Host ${host}, Origin ${origin}: ${answer.error}`)
    }
    assert.equal(await stateOf(m, 'plain'), 'passing')
    // Its own origin as the browser saw it: the scheme's default port when the Host has
    // none (plain HTTP, or a TLS proxy in front), or the Host's port.
    const accepted: [host: string, origin: string][] = [
      ['monitor.example.com', 'http://monitor.example.com'],
      ['monitor.example.com', 'https://monitor.example.com'],
      ['Monitor.Example.com', 'https://monitor.example.com.'],
      ['monitor.example.com:4443', 'https://monitor.example.com:4443'],
      ['monitor.example.com:443', 'https://monitor.example.com'],
      [`localhost:${port}`, `http://localhost:${port}`],
      [`[::1]:${port}`, `http://[::1]:${port}`],
    ]
    for (const [host, origin] of accepted) {
      const answer = await pushPastRateLimit(`${m.url}/v1/push/plain`, { ...BEARER, host, origin })
      assert.equal(answer.status, 200, `Host ${host}, Origin ${origin}: ${answer.error}`)
    }
  })

  it('gives inspect --api the token from --token-file, and says which flag is missing on a 401', async () => {
    const none = await runCli(['inspect', '--api', m.url])
    assert.equal(none.code, 1)
    assert.match(
      none.stderr,
      /needs a token; pass --token-file FILE with one of the tokens in the monitor's --auth-token-file/,
    )
    const wrongFile = join(dir, 'wrong.token')
    writeFileSync(wrongFile, 'wrong-token-0123456789abcdef\n')
    const wrong = await runCli(['inspect', '--api', m.url, '--token-file', wrongFile])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /refused the token in --token-file .*wrong\.token/)
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /wrong-token-0123456789abcdef/)
    const ok = await runCli(['inspect', '--api', m.url, '--token-file', tokenFile, '--pod', 'jobs'])
    assert.equal(ok.code, 0, ok.stdout)
    assert.deepEqual(
      Object.keys((JSON.parse(ok.stdout) as Record<string, Record<string, object>>).jobs?.n1 ?? {}).sort(),
      ['backup', 'nightly', 'plain'],
    )
    const missing = await runCli(['inspect', '--api', m.url, '--token-file', join(dir, 'absent')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /--token-file .*absent does not exist/)
  })

  // Last: it changes the token file.
  it('rereads the token file on SIGHUP: the old token stops working and the new one works; an unusable file keeps the tokens', async () => {
    // An event stream opened with the old token is ended by the reload.
    const stream = await fetch(`${m.url}/v1/events`, { headers: BEARER })
    assert.equal(stream.status, 200)
    const ended = (async () => {
      const reader = stream.body?.getReader()
      for (;;) if ((await reader?.read())?.done !== false) return true
    })()

    // So is a long poll: it checks its credential again before it answers.
    const index = (await request(`${m.url}/v1/checks`, { headers: BEARER })).headers['x-probekit-index']
    const longPoll = request(`${m.url}/v1/checks?index=${index}&wait=60s`, { headers: BEARER })

    writeFileSync(tokenFile, `# rotated\n${ROTATED}\n`)
    m.child.kill('SIGHUP')
    await waitFor(
      'the old token to be refused',
      async () => (await request(`${m.url}/v1/checks`, { headers: BEARER })).status === 401,
    )
    const rotated = { authorization: `Bearer ${ROTATED}` }
    assert.equal((await request(`${m.url}/v1/checks`, { headers: rotated })).status, 200)
    assert.equal((await request(`${m.url}/v1/push/plain/fail`, { method: 'POST', headers: rotated })).status, 200)
    assertUnauthorized(await longPoll, 'a long poll after its token was removed')
    await printed(m, /reread --auth-token-file .*tokens: 1 token\n/)
    assert.equal(await ended, true, 'the old stream ended')

    writeFileSync(tokenFile, 'short\n')
    m.child.kill('SIGHUP')
    await waitFor('the failed reread in the log', () => /rereading --auth-token-file failed/.test(m.output()))
    const line =
      m
        .output()
        .split('\n')
        .find((l) => l.includes('rereading --auth-token-file failed')) ?? ''
    assert.match(line, /keeping the 1 token read before: .*tokens line 1: a token of 5 characters is too easy to guess/)
    assert.doesNotMatch(line, /short\b/)
    assert.equal((await request(`${m.url}/v1/checks`, { headers: rotated })).status, 200)
    assert.equal((await request(`${m.url}/v1/checks`, { headers: BEARER })).status, 401)
  })
})

describe('a monitor on loopback without --auth-token-file', () => {
  let m: MonitorProcess

  before(async () => {
    m = await spawnMonitor(['--store', 'memory', '--listen', '127.0.0.1:0', manifest]).started()
    await printed(m, /access: no credential, loopback only/)
  })
  after(async () => {
    assert.equal(await m?.stop(), 0)
  })

  it('serves reads and POST pushes without a credential', async () => {
    assert.equal((await request(`${m.url}/v1/checks`)).status, 200)
    assert.equal((await request(`${m.url}/v1/push/plain`, { method: 'POST' })).status, 200)
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/plain`)).body as { state: string }).state, 'passing')
  })

  it('refuses a GET push without a secret with 405 and a sentence saying to POST', async () => {
    const get = await request(`${m.url}/v1/push/plain/fail`)
    assert.equal(get.status, 405)
    assert.equal(get.headers.allow, 'POST, PUT')
    // HEAD is never a push.
    assert.equal((await request(`${m.url}/v1/push/plain/fail`, { method: 'HEAD' })).headers.allow, 'POST, PUT, GET')
    const answer = await request(`${m.url}/v1/push/plain/fail`)
    assert.match(answer.error, /a GET does not change a push check's state; POST to this URL/)
    // Nor does a ?token= the check has none of.
    assert.equal((await request(`${m.url}/v1/push/plain/fail?token=${BACKUP}`)).status, 405)
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/plain`)).body as { state: string }).state, 'passing')
  })

  it('still needs the token of a push check that has one', async () => {
    assertUnauthorized(await request(`${m.url}/v1/push/backup`, { method: 'POST' }), 'backup without its token')
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/backup`)).body as { state: string }).state, 'unknown')
    assert.equal((await request(`${m.url}/v1/push/backup?token=${BACKUP}`)).status, 200)
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/backup`)).body as { state: string }).state, 'passing')
  })

  it('refuses a foreign Origin for writes and a foreign Host for everything', async () => {
    const cross = await request(`${m.url}/v1/push/plain/fail`, {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
    })
    assert.equal(cross.status, 403)
    assert.equal((await request(`${m.url}/v1/checks`, { headers: { host: 'rebound.evil.example' } })).status, 421)
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/plain`)).body as { state: string }).state, 'passing')
  })
})

describe('a monitor listening on a name (--listen localhost:PORT) without --auth-token-file', () => {
  let m: MonitorProcess
  let host: string

  before(async () => {
    m = await spawnMonitor(['--store', 'memory', '--listen', 'localhost:0', manifest]).started()
    host = `localhost:${new URL(m.url).port}`
  })
  after(async () => {
    assert.equal(await m?.stop(), 0)
  })

  it('refuses writes from pages on its name at another port or scheme (a form or no-cors fetch from localhost:3000)', async () => {
    const silence = JSON.stringify({ pod: 'jobs', for: '1h', comment: 'from another local app' })
    for (const origin of ['http://localhost:3000', 'https://localhost', 'http://localhost']) {
      // What a <form enctype=text/plain> sends: no preflight, so only the Origin can stop it.
      const form = await request(`${m.url}/v1/silences`, {
        method: 'POST',
        headers: { host, origin, 'content-type': 'text/plain' },
        body: silence,
      })
      assert.equal(form.status, 403, `silence from ${origin}: ${form.error}`)
      const push = await request(`${m.url}/v1/push/plain/fail`, { method: 'POST', headers: { host, origin } })
      assert.equal(push.status, 403, `push from ${origin}: ${push.error}`)
    }
    assert.deepEqual((await request(`${m.url}/v1/silences`, { headers: { host } })).body, {
      silences: [],
      tokenRequired: false,
    })
    assert.equal(((await request(`${m.url}/v1/checks/n1/jobs/plain`)).body as { state: string }).state, 'unknown')
  })

  it('accepts writes from its own pages (the Host as the browser saw it) and from tools that send no Origin', async () => {
    const own = await request(`${m.url}/v1/silences`, {
      method: 'POST',
      headers: { host, origin: `http://${host}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pod: 'jobs', for: '1h', comment: 'from the dashboard' }),
    })
    assert.equal(own.status, 201, own.error)
    const curl = await request(`${m.url}/v1/push/plain`, { method: 'POST', headers: { host } })
    assert.equal(curl.status, 200, curl.error)
    const pushed = await pushPastRateLimit(`${m.url}/v1/push/plain`, { host, origin: `http://${host}` })
    assert.equal(pushed.status, 200, pushed.error)
  })
})

describe('--public-read', () => {
  it('opens reads and keeps writes behind the token', async () => {
    const tokens = join(dir, 'public-read.tokens')
    writeFileSync(tokens, `${GLOBAL}\n`)
    const m = await spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '127.0.0.1:0',
      '--auth-token-file',
      tokens,
      '--public-read',
      manifest,
    ]).started()
    try {
      await printed(m, /for writes; reads are public/)
      for (const path of ['/v1/checks', '/metrics', '/v1/inspect'])
        assert.equal((await request(`${m.url}${path}`)).status, 200)
      assertUnauthorized(await request(`${m.url}/v1/push/plain`, { method: 'POST' }), 'a write with --public-read')
      assert.equal((await request(`${m.url}/v1/push/plain`, { method: 'POST', headers: BEARER })).status, 200)
    } finally {
      assert.equal(await m.stop(), 0)
    }
  })
})

describe('listening beyond loopback', () => {
  it('refuses to start without a credential, naming --auth-token-file and --insecure-no-auth', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0', 'monitor.internal:0']) {
      const { code, stdout } = await runCli(['monitor', '--store', 'memory', '--listen', listen, manifest])
      assert.equal(code, 1, listen)
      assert.match(
        stdout,
        /usage error: --listen .* reaches beyond this machine and no credential is configured; add --auth-token-file FILE .*, or --insecure-no-auth/,
      )
    }
  })

  it('starts with --insecure-no-auth, and with --auth-token-file', async () => {
    const open = await spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '0.0.0.0:0',
      '--insecure-no-auth',
      manifest,
    ]).started()
    try {
      await printed(open, /access: no credential \(--insecure-no-auth\)/)
      assert.equal((await request(`${open.url}/v1/checks`)).status, 200)
    } finally {
      assert.equal(await open.stop(), 0)
    }
    const tokens = join(dir, 'wide.tokens')
    writeFileSync(tokens, `${GLOBAL}\n`)
    const guarded = await spawnMonitor([
      '--store',
      'memory',
      '--listen',
      '0.0.0.0:0',
      '--auth-token-file',
      tokens,
      manifest,
    ]).started()
    try {
      assert.equal((await request(`${guarded.url}/v1/checks`)).status, 401)
      assert.equal((await request(`${guarded.url}/v1/checks`, { headers: BEARER })).status, 200)
    } finally {
      assert.equal(await guarded.stop(), 0)
    }
  })

  it('refuses an unusable token file or contradictory flags as a usage error that never echoes a token', async () => {
    const bad = join(dir, 'bad.tokens')
    writeFileSync(bad, '# comment\n\nshort-secret\n')
    const short = await runCli(['monitor', '--store', 'memory', '--auth-token-file', bad, manifest])
    assert.equal(short.code, 1)
    assert.match(
      short.stdout,
      /usage error: --auth-token-file .*bad\.tokens line 3: a token of 12 characters is too easy to guess/,
    )
    assert.doesNotMatch(short.stdout, /short-secret/)
    // A file named token (as the docs name it): its line number is not taken for a secret.
    const named = join(dir, 'token')
    writeFileSync(named, 'short-secret\n')
    const plain = await runCli(['monitor', '--store', 'memory', '--auth-token-file', named, manifest])
    assert.match(
      plain.stdout,
      /usage error: --auth-token-file .*\/token line 1: a token of 12 characters is too easy to guess/,
    )
    assert.doesNotMatch(plain.stdout, /short-secret|\*\*\*/)
    writeFileSync(bad, '# only comments\n\n')
    assert.match(
      (await runCli(['monitor', '--store', 'memory', '--auth-token-file', bad, manifest])).stdout,
      /holds no token/,
    )
    const both = await runCli([
      'monitor',
      '--store',
      'memory',
      '--auth-token-file',
      tokenFile,
      '--insecure-no-auth',
      manifest,
    ])
    assert.match(both.stdout, /--auth-token-file and --insecure-no-auth contradict each other/)
    const publicRead = await runCli(['monitor', '--store', 'memory', '--public-read', manifest])
    assert.match(publicRead.stdout, /--public-read .* add --auth-token-file FILE/)
    const host = await runCli(['monitor', '--store', 'memory', '--allowed-host', 'http://x:80', manifest])
    assert.match(host.stdout, /--allowed-host "http:\/\/x:80" is not a host name/)
  })
})

describe('startApi from code', () => {
  it('refuses to listen beyond loopback without auth.tokens or auth.insecureNoAuth, and guards with auth.tokens', async () => {
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    await monitor.load([manifest])
    try {
      await assert.rejects(
        startApi(monitor, { host: '0.0.0.0', port: 0, logger: false }),
        /listening on 0\.0\.0\.0 reaches beyond this machine and no credential is configured; give auth\.tokens/,
      )
      await assert.rejects(
        startApi(monitor, { host: '127.0.0.1', port: 0, logger: false, auth: { tokens: ['short'] } }),
        /auth\.tokens\[0\]: a token of 5 characters is too easy to guess/,
      )
      const open = await startApi(monitor, { host: '0.0.0.0', port: 0, logger: false, auth: { insecureNoAuth: true } })
      await open.close()
      const guarded = await startApi(monitor, { host: '0.0.0.0', port: 0, logger: false, auth: { tokens: [GLOBAL] } })
      try {
        assert.equal((await request(`${guarded.url}/v1/checks`)).status, 401)
        assert.equal((await request(`${guarded.url}/v1/checks`, { headers: BEARER })).status, 200)
      } finally {
        await guarded.close()
      }
    } finally {
      await monitor.stop()
      monitor.store.close()
    }
  })

  it('leaves nothing behind when it cannot listen: the token file keeps no reload listener', async () => {
    const monitor = new Monitor({ store: openStore('memory'), logger: false })
    await monitor.load([manifest])
    const dir = makeTempDir('api-listen-fails')
    writeFileSync(join(dir, 'tokens'), `${GLOBAL}\n`)
    const tokens = new TokenFile(join(dir, 'tokens'))
    let listening = 0
    const onReload = tokens.onReload.bind(tokens)
    tokens.onReload = (listener) => {
      listening++
      const off = onReload(listener)
      return () => {
        listening--
        return off()
      }
    }
    const first = await startApi(monitor, { host: '127.0.0.1', port: 0, logger: false, auth: { tokens } })
    try {
      assert.equal(listening, 1)
      const port = Number(new URL(first.url).port)
      await assert.rejects(
        startApi(monitor, { host: '127.0.0.1', port, logger: false, auth: { tokens } }),
        new RegExp(`127\\.0\\.0\\.1:${port} is already in use`),
      )
      assert.equal(listening, 1, 'the failed start left its reload listener on the token file')
    } finally {
      await first.close()
      await monitor.stop()
      monitor.store.close()
    }
    assert.equal(listening, 0)
  })
})

describe('the wrong-credential pace', () => {
  it('counts an IPv4 address on its own, and an IPv6 address by its /64, written any way', () => {
    assert.equal(peerKey('203.0.113.7'), '203.0.113.7')
    assert.equal(peerKey('::ffff:203.0.113.7'), '203.0.113.7')
    const one = peerKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')
    assert.equal(one, '2001:db8:1:2::/64')
    for (const same of ['2001:db8:1:2::1', '2001:0db8:0001:0002:0:0:0:ffff', '2001:DB8:1:2::abcd%eth0'])
      assert.equal(peerKey(same), one, same)
    assert.notEqual(peerKey('2001:db8:1:3::1'), one)
    assert.equal(peerKey('::1'), '0:0:0:0::/64')
    assert.equal(peerKey('2001:db8::'), '2001:db8:0:0::/64')
  })
})
