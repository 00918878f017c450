import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { makeTempDir, refusedPort } from '../support/server-process.js'
import { buildCli, cli } from './run-cli.js'

describe('probekit check: input it refuses, output it bounds', () => {
  let closedPort: number
  before(async () => {
    buildCli()
    closedPort = await refusedPort()
  })

  // Independent cases: run them side by side.
  describe('usage errors exit 1 (never 2) and say so', { concurrency: true }, () => {
    for (const [args, pattern] of [
      [[], /usage error: name at least one target/],
      [
        ['gopher://127.0.0.1:70/'],
        /usage error: "gopher:\/\/127\.0\.0\.1:70\/" has the unsupported scheme "gopher:" \(supported schemes: http:\/\/ https:\/\/ tcp:\/\//,
      ],
      [['localhost:6379'], /usage error: "localhost:6379" is not a URL; for a port, write tcp:\/\/localhost:6379/],
      // As curl takes it: the scheme left out, not the unknown scheme "localhost:".
      [
        ['localhost:8080/readyz'],
        /usage error: "localhost:8080\/readyz" is not a URL; for an HTTP endpoint, write http:\/\/localhost:8080\/readyz /,
      ],
      [['http://'], /usage error: "http:\/\/" is not a well-formed URL; check the host, port and escaping$/m],
      // A password holding a raw / then ? is masked whole, and the fix named.
      [
        ['postgres://app:ab/c?d@db/app'],
        /usage error: "postgres:\/\/app:\*\*\*@db\/app" is not a well-formed URL; a password holding \/ \? # or @ must be percent-encoded \(%2F %3F %23 %40\), as encodeURIComponent writes it$/m,
      ],
      [['tcp://127.0.0.1:70000'], /usage error: "tcp:\/\/127\.0\.0\.1:70000": port 70000 is out of range 1–65535$/m],
      [
        ['memcached://a:11211,b:99999'],
        /usage error: "memcached:\/\/a:11211,b:99999": port 99999 is out of range 1–65535$/m,
      ],
      [
        ['mariadb://app:hunter2@db:123456/app'],
        /usage error: "mariadb:\/\/app:\*\*\*@db:123456\/app": port 123456 is out of range/,
      ],
      [['--timeout', 'soon', 'http://127.0.0.1:1/'], /usage error: --timeout "soon" is not a duration/],
      [
        ['--timeout', '0', 'http://127.0.0.1:1/'],
        /usage error: --timeout must be a positive duration such as 2s or 500ms, got 0$/m,
      ],
      [
        ['--timeout', '-1', 'http://127.0.0.1:1/'],
        /usage error: --timeout must be a positive duration such as 2s or 500ms, got -1$/m,
      ],
      [['--timout', '3', 'http://127.0.0.1:1/'], /usage error: unknown option "--timout"; did you mean --timeout\?$/m],
      [['--timeout'], /usage error: --timeout needs a value$/m],
      // The value forgotten: the target became the flag's value (and is not echoed: it may hold a password).
      [
        ['--timeout', 'http://app:hunter2@127.0.0.1:1/'],
        /usage error: --timeout took a target as its value; give the flag its value first, e\.g\. probekit check --timeout 2s http:\/\/127\.0\.0\.1:8080\/readyz$/m,
      ],
      [
        ['--expect-status', 'http://127.0.0.1:1/', 'http://127.0.0.1:2/'],
        /usage error: --expect-status took a target as its value; .* --expect-status 2xx /,
      ],
      [['--timeout', '--json', 'http://127.0.0.1:1/'], /usage error: --timeout needs a value$/m],
      [['--json=yes', 'http://127.0.0.1:1/'], /usage error: --json takes no value; write --json alone$/m],
      [
        ['--header', 'X-A: b', 'tcp://127.0.0.1:1'],
        /usage error: --header applies to http:\/\/ and https:\/\/ targets/,
      ],
      [['--header', 'no colon', 'http://127.0.0.1:1/'], /usage error: the --header "no…" has no colon; write it as/],
      [
        ['--header', 'Authorization Bearer hunter2', 'http://127.0.0.1:1/'],
        /usage error: the --header "Authorization…" has no colon; write it as 'Name: value'$/m,
      ],
      // A lone word may be the credential itself: not shown.
      [['--header', 'hunter2-token', 'http://127.0.0.1:1/'], /usage error: the --header given has no colon; write/],
      [
        ['--header', 'Bad Name: hunter2', 'http://127.0.0.1:1/'],
        /usage error: the --header "Bad…" has a space in its name, which a header name cannot hold; write it as/,
      ],
      [
        ['--header', ': hunter2', 'http://127.0.0.1:1/'],
        /usage error: the --header given has no name before its colon/,
      ],
      [
        ['--header', 'X-A: hunter2\r\nX-B: c', 'http://127.0.0.1:1/'],
        /usage error: the --header "X-A: …" holds a line break or NUL, which a header cannot/,
      ],
      [['--expect-status', 'ok', 'http://127.0.0.1:1/'], /usage error: --expect-status "ok" is not a status/],
      [['--max-age', '60', 'http://127.0.0.1:1/'], /usage error: --max-age applies to file:\/\/ targets/],
      [
        ['--insecure', 'http://127.0.0.1:1/', 'tcp://127.0.0.1:1'],
        /usage error: --insecure applies to TLS targets \(https:\/\/, rediss:\/\/, postgres:\/\/, amqps:\/\/, mqtts:\/\/, nats:\/\/, grpcs:\/\/\), and none was given$/m,
      ],
      [['--ca', '/nonexistent/ca.pem', 'redis://127.0.0.1:1'], /usage error: --ca applies to TLS targets/],
      [['--max-age', 'old', 'file:///tmp/x'], /usage error: --max-age "old" is not a duration/],
      [
        ['--ca', '/nonexistent/ca.pem', 'https://127.0.0.1:1/'],
        /usage error: --ca \/nonexistent\/ca.pem: the CA certificate file does not exist/,
      ],
      [['--json', '-q', 'http://127.0.0.1:1/'], /usage error: --json and --quiet contradict each other/],
      [['--retries', '3', 'http://127.0.0.1:1/'], /usage error: unknown option "--retries"$/m],
      // maykin-common's health-check, as Open Klant's documentation writes it.
      [
        ['--endpoint=http://127.0.0.1:1/_healthz/livez/', '--timeout=3'],
        /usage error: unknown option "--endpoint"; the URL is an argument of its own here: maykin-common's health-check --endpoint=URL --timeout=3 is probekit check --timeout 3 URL$/m,
      ],
      [
        ['--endpoint', 'http://127.0.0.1:1/_healthz/livez/'],
        /usage error: unknown option "--endpoint"; the URL is an argument of its own here/,
      ],
      [['postgres://app:hunter2@db:5432/app', 'mongo://x'], /usage error: "mongo:\/\/x" has the unsupported scheme/],
      // Names every object inherits are schemes like any other unknown one.
      [['constructor://x'], /usage error: "constructor:\/\/x" has the unsupported scheme "constructor:"/],
      [['toString://127.0.0.1:1'], /usage error: "toString:\/\/127\.0\.0\.1:1" has the unsupported scheme "tostring:"/],
      [['http://127.0.0.1:1/', 'hasOwnProperty://x'], /usage error: "hasOwnProperty:\/\/x" has the unsupported scheme/],
      [
        ['postgress://app:hunter2@db:5432/app'],
        /usage error: "postgress:\/\/app:\*\*\*@db:5432\/app" has the unsupported scheme "postgress:"; did you mean postgres:\/\/\? \(supported/,
      ],
    ] as const) {
      it(`probekit check ${args.join(' ')}`, async () => {
        const run = await cli(['check', ...args])
        assert.equal(run.code, 1)
        assert.match(run.stdout, pattern)
        assert.match(run.stdout, /See "probekit check --help"/)
        assert.doesNotMatch(run.stdout, /hunter2/)
        assert.doesNotMatch(run.stdout, /\n\s+at /, 'no stack trace')
      })
    }
  })

  it('refuses a --ca file that holds no PEM certificate, naming a DER one as such', async () => {
    const dir = makeTempDir('ca')
    const text = join(dir, 'hostname')
    writeFileSync(text, 'web-1\n')
    const der = join(dir, 'ca.der')
    // The start of any DER certificate: a SEQUENCE with a two-byte length.
    writeFileSync(der, Buffer.from([0x30, 0x82, 0x03, 0x0b, 0x30, 0x82, 0x01, 0xf3]))
    const plain = await cli(['check', '--ca', text, 'https://127.0.0.1:1/'])
    assert.equal(plain.code, 1)
    assert.match(
      plain.stdout,
      /usage error: --ca .*hostname: the CA certificate file holds no PEM certificate \(no -----BEGIN CERTIFICATE----- line\)$/m,
    )
    const binary = await cli(['check', '--ca', der, 'rediss://127.0.0.1:1'])
    assert.equal(binary.code, 1)
    assert.match(
      binary.stdout,
      /usage error: --ca .*ca\.der: the CA certificate file is DER \(binary\), not PEM; convert it with "openssl x509 -inform der -in FILE -out ca\.pem"$/m,
    )
  })

  it('never echoes a password in a usage error', async () => {
    const run = await cli(['check', 'tcp://u:TcpPw10@127.0.0.1:1'])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /usage error: /)
    assert.doesNotMatch(run.stdout, /TcpPw10/)
  })

  it('masks a password holding @ and : whole, up to the last @ before the host', async () => {
    const run = await cli(['check', '--timeout', '2s', `redis://:p@ss:w0rd3@127.0.0.1:${closedPort}`])
    assert.equal(run.code, 1)
    assert.match(run.stdout, new RegExp(`^failed redis://:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}: `))
    assert.doesNotMatch(run.stdout, /w0rd3|p@ss/)
  })

  it('caps each line so the output fits in the 4 KB Docker keeps', async () => {
    const long = `http://127.0.0.1:${closedPort}/readyz?${'x'.repeat(3000)}`
    const run = await cli(['check', long, long, long])
    assert.equal(run.code, 1)
    assert.ok(Buffer.byteLength(run.stdout) <= 4096, `${Buffer.byteLength(run.stdout)} bytes`)
    assert.equal(run.stdout.trimEnd().split('\n').length, 3)
  })
})
