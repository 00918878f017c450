import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { redact } from '../../src/core/redact.js'
import {
  type CheckSpec,
  checkFingerprint,
  loadManifests,
  ManifestError,
  parseManifest,
} from '../../src/monitor/manifest.js'
import { makeTempDir } from '../support/server-process.js'

const fixtures = resolve(import.meta.dirname, '../fixtures/manifests')
const fixture = (name: string) => join(fixtures, name)

function only(paths: string[], node = 'this-host'): CheckSpec[] {
  return loadManifests(paths, { node }).flatMap((p) => p.checks)
}

function manifestError(run: () => unknown): ManifestError {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a ManifestError')
}

describe('p2 pod manifests', () => {
  it('check /_status over HTTPS on status_port by default, launchables ignored', () => {
    const [check] = only([fixture('p2-carsales.yaml')])
    assert.ok(check && check.kind === 'http')
    assert.equal(check.pod, 'carsales.com')
    assert.equal(check.check, 'health_check')
    assert.equal(check.node, 'this-host')
    assert.equal(check.url, 'https://localhost:8001/_status')
    assert.equal(check.method, 'GET')
    assert.equal(check.intervalMs, 5000)
    assert.ok(check.timeoutMs < check.intervalMs)
    assert.equal(check.id, 'this-host/carsales.com/health_check')
  })

  it('switch to plain HTTP with status_http: true, other keys ignored', () => {
    const [check] = only([fixture('p2-isup-http.yaml')])
    assert.ok(check && check.kind === 'http')
    assert.equal(check.url, 'http://localhost:8040/_status')
  })

  it('read a p2 pod without status_port as p2 does: not checked, and no reason to refuse the fleet', () => {
    const dir = makeTempDir('p2-fleet')
    writeFileSync(
      join(dir, 'carsales.yaml'),
      'id: carsales.com\nstatus_port: 8001\nlaunchables:\n  web:\n    launchable_type: hoist\n',
    )
    // p2-bin2pod's manifest before status_port is set: p2 runs the pod and checks nothing.
    writeFileSync(
      join(dir, 'batch.yaml'),
      'id: batch\nlaunchables:\n  batch:\n    launchable_type: hoist\n    launchable_id: batch\n    location: batch.tar.gz\n',
    )
    const pods = loadManifests([dir], { node: 'this-host' })
    assert.deepEqual(
      pods.map((p) => [p.id, p.checks.map((c) => c.check)]),
      [
        ['batch', []],
        ['carsales.com', ['health_check']],
      ],
    )
    // Not p2's and checking nothing is still a mistake (here `check:` for `checks:`).
    writeFileSync(join(dir, 'typo.yaml'), 'id: typo\ncheck:\n  - name: web\n    url: http://h:1/\n')
    assert.match(manifestError(() => loadManifests([dir])).message, /typo\.yaml:1: pod "typo" has nothing to check/)
  })

  it('read a PGP-signed p2 manifest (gpg --clearsign) as the manifest inside, mistakes at their lines', () => {
    const checks = only([fixture('p2-signed.yaml')])
    assert.deepEqual(
      checks.map((c) => [c.check, c.target]),
      [
        ['health_check', 'https://localhost:8443/_status'],
        ['db', 'db.internal:5432'],
      ],
    )
    const armor = (yaml: string) =>
      `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${yaml}-----BEGIN PGP SIGNATURE-----\n\niHUEARYIAB0WIQ\n=iN3r\n-----END PGP SIGNATURE-----\n`
    const error = manifestError(() => parseManifest(armor('id: a\nstatus_port: eighty\n'), 'a.yaml'))
    assert.equal(error.message, 'a.yaml:5: status_port: "eighty" is not a port; use a number from 1 to 65535')
    assert.match(
      manifestError(() => parseManifest('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nid: a\n', 'a.yaml'))
        .message,
      /^a\.yaml: this PGP-signed manifest has no "-----BEGIN PGP SIGNATURE-----" block after the manifest; sign it again/,
    )
  })

  it("read YAML 1.1's yes, no, on and off as p2's parser (go-yaml v2) did", () => {
    const url = (yaml: string) => {
      const [check] = parseManifest(`id: a\nstatus_port: 8001\n${yaml}`, 'a.yaml', { node: 'n1' })[0]?.checks ?? []
      return check?.target
    }
    assert.equal(url('status_http: yes\n'), 'http://localhost:8001/_status')
    assert.equal(url('status_http: On\n'), 'http://localhost:8001/_status')
    assert.equal(url('status_http: NO\n'), 'https://localhost:8001/_status')
    assert.equal(url('node: web-1\nstatus_http: y\nstatus:\n  localhost_only: on\n'), 'http://localhost:8001/_status')
    assert.match(
      manifestError(() => parseManifest('id: a\nstatus_port: 8001\nstatus_http: maybe\n', 'a.yaml')).message,
      /a\.yaml:3: status_http: "maybe" is not true or false$/,
    )
  })

  it('take the status stanza: path, port, localhost_only, and the node name', () => {
    const [check] = only([fixture('p2-status-stanza.yaml')])
    assert.ok(check && check.kind === 'http')
    assert.equal(check.node, 'aws1.example.com')
    assert.equal(check.url, 'http://localhost:9100/healthz')
  })

  it('reach a named node by its name unless localhost_only', () => {
    const [check] = parseManifest('id: a\nnode: db-7.internal\nstatus_port: 8001\n', 'a.yaml').flatMap((p) => p.checks)
    assert.ok(check && check.kind === 'http')
    assert.equal(check.url, 'https://db-7.internal:8001/_status')
  })

  it('default the node to the host name when none is given anywhere', async () => {
    const { hostname } = await import('node:os')
    const [pod] = parseManifest('id: a\nstatus_port: 8001\n', 'a.yaml')
    assert.equal(pod?.node, hostname())
  })
})

describe('explicit checks', () => {
  const checks = only([fixture('checks.yaml')])
  const byName = new Map(checks.map((c) => [c.check, c]))

  it('list the p2 status check first, then each declared check', () => {
    assert.deepEqual(
      checks.map((c) => `${c.check}:${c.kind}`),
      ['health_check:http', 'api:http', 'status-path:http', 'db-port:tcp', 'cache:probe', 'disk:exec', 'backup:push'],
    )
  })

  it('read an http check with method, headers, expected statuses, thresholds and TLS', () => {
    const api = byName.get('api')
    assert.ok(api && api.kind === 'http')
    assert.equal(api.method, 'HEAD')
    assert.deepEqual(api.headers, { 'X-Probe': 'monitor' })
    assert.deepEqual(api.expectStatus, [200, 204])
    assert.equal(api.intervalMs, 10_000)
    assert.equal(api.timeoutMs, 2000)
    assert.deepEqual(api.thresholds, { successBeforePassing: 2, failuresBeforeWarning: 3, failuresBeforeCritical: 3 })
    assert.equal(api.tls.caFile, join(fixtures, 'ca.pem'), 'relative to the manifest')
    assert.equal(api.tls.serverName, 'api.example')
  })

  it('build a path check on the pod status port, on its named node', () => {
    const check = byName.get('status-path')
    assert.ok(check && check.kind === 'http')
    assert.equal(check.url, 'http://web-1:8443/metrics')
  })

  it('read tcp, typed-target, exec and push checks', () => {
    const tcp = byName.get('db-port')
    assert.ok(tcp && tcp.kind === 'tcp')
    assert.deepEqual([tcp.host, tcp.port, tcp.target], ['db.internal', 5432, 'db.internal:5432'])
    const cache = byName.get('cache')
    assert.ok(cache && cache.kind === 'probe')
    assert.doesNotMatch(cache.target, /s3cret/, 'the shown target is redacted')
    assert.match(cache.url, /s3cret/, 'the probe still gets the password')
    const disk = byName.get('disk')
    assert.ok(disk && disk.kind === 'exec')
    assert.deepEqual(disk.command, ['/usr/lib/nagios/plugins/check_disk', '-w', '10%'])
    assert.equal(disk.shell, false)
    assert.equal(disk.intervalMs, 60_000)
    const backup = byName.get('backup')
    assert.ok(backup && backup.kind === 'push')
    assert.equal(backup.periodMs, 86_400_000)
    assert.equal(backup.graceMs, 7_200_000)
  })

  it('take mariadb:// wherever mysql:// is taken', () => {
    const [pod] = parseManifest(
      'id: a\nchecks:\n  - name: db\n    url: mariadb://app:pw@db:3306/app\n  - name: db2\n    type: mariadb\n    url: mariadb://db:3306\n  - name: db3\n    type: probe\n    target: mariadb://db:3306\n',
      'a.yaml',
    )
    assert.deepEqual(
      pod?.checks.map((c) => [c.kind, c.target]),
      [
        ['probe', 'mariadb://app:***@db:3306/app'],
        ['probe', 'mariadb://db:3306'],
        ['probe', 'mariadb://db:3306'],
      ],
    )
  })

  it("take the Unix-socket URLs the probes take, libpq's postgres://user@/db?host=DIR included, as written", () => {
    const [pod] = parseManifest(
      [
        'id: a',
        'checks:',
        '  - name: pg',
        '    url: postgres://app:pw@/app?host=/run/postgresql',
        '  - name: pg2',
        '    type: postgres',
        '    url: postgresql:///app?host=/run/postgresql&user=app',
        '  - name: my',
        '    url: mysql://root@localhost/mysql?socket=/run/mysqld/mysqld.sock',
        '  - name: cache',
        '    url: redis://:pw-1234@localhost/2?socket=/run/redis/redis-server.sock',
        '',
      ].join('\n'),
      'a.yaml',
    )
    assert.deepEqual(
      pod?.checks.map((c) => [c.kind, c.target, c.kind === 'probe' ? c.url : '']),
      [
        ['probe', 'postgres://app:***@/app?host=/run/postgresql', 'postgres://app:pw@/app?host=/run/postgresql'],
        ['probe', 'postgresql:///app?host=/run/postgresql&user=app', 'postgresql:///app?host=/run/postgresql&user=app'],
        [
          'probe',
          'mysql://root@localhost/mysql?socket=/run/mysqld/mysqld.sock',
          'mysql://root@localhost/mysql?socket=/run/mysqld/mysqld.sock',
        ],
        [
          'probe',
          'redis://:***@localhost/2?socket=/run/redis/redis-server.sock',
          'redis://:pw-1234@localhost/2?socket=/run/redis/redis-server.sock',
        ],
      ],
    )
  })

  it('refuse at load what the typed probe refuses when it is made, with the file and line', () => {
    const cases: [string, RegExp][] = [
      ['url: postgres://app@/app?host=/a,/b', /a\.yaml:4: checks\[0\]\.url: ".*" names several hosts \(\/a,\/b\)/],
      [
        'url: postgres://app@db/app?port=abc',
        /a\.yaml:4: checks\[0\]\.url: ".*" has port "abc"; use a number from 1 to 65535$/,
      ],
      [
        'url: mysql://root@localhost/db?socket=rel.sock',
        /a\.yaml:4: checks\[0\]\.url: .*socket="rel\.sock"; write the socket's absolute path/,
      ],
      ['url: redis://db:6379/cache', /a\.yaml:4: checks\[0\]\.url: .*not a database number/],
      [
        'url: redis://localhost?socket=redis.sock',
        /a\.yaml:4: checks\[0\]\.url: .*socket="redis\.sock"; write the socket's absolute path/,
      ],
      [
        'url: redis://db:6379?db=2',
        /a\.yaml:4: checks\[0\]\.url: .*has the parameter "db", which the check does not read/,
      ],
    ]
    for (const [line, expected] of cases) {
      const error = manifestError(() => parseManifest(`id: a\nchecks:\n  - name: x\n    ${line}\n`, 'a.yaml'))
      assert.match(error.message, expected)
    }
  })

  it('run a single-string command through the shell, as Consul script checks do', () => {
    const [check] = parseManifest(
      'id: a\nchecks:\n  - name: s\n    command: "test -f /tmp/x && echo ok"\n',
      'a.yaml',
    ).flatMap((p) => p.checks)
    assert.ok(check && check.kind === 'exec')
    assert.equal(check.shell, true)
  })

  it('give each check a fingerprint that changes with what it checks', () => {
    const [a] = parseManifest('id: a\nchecks:\n  - name: x\n    url: http://h:1/\n', 'a.yaml').flatMap((p) => p.checks)
    const [b] = parseManifest('id: a\nchecks:\n  - name: x\n    url: http://h:2/\n', 'b.yaml').flatMap((p) => p.checks)
    const [c] = parseManifest('\nid: a\nchecks:\n  - name: x\n    url: http://h:1/\n', 'c.yaml').flatMap(
      (p) => p.checks,
    )
    assert.ok(a && b && c)
    assert.notEqual(checkFingerprint(a), checkFingerprint(b))
    assert.equal(checkFingerprint(a), checkFingerprint(c), 'where it is declared does not matter')
  })

  it('skip empty documents: a trailing `---`, one of comments only', () => {
    const dir = makeTempDir('manifests')
    writeFileSync(
      join(dir, 'a.yaml'),
      '---\nid: one\nstatus_port: 1001\n---\n# retired: two\n---\nid: three\nstatus_port: 1003\n---\n',
    )
    assert.deepEqual(
      loadManifests([dir], { node: 'n' }).map((p) => p.id),
      ['one', 'three'],
    )
    writeFileSync(join(dir, 'a.yaml'), 'id: one\nstatus_port: 1001\n---\nnull\n')
    assert.match(
      manifestError(() => loadManifests([dir], { node: 'n' })).message,
      /a\.yaml:4: a manifest must be a YAML mapping/,
    )
  })

  it('load every YAML file of a directory, several pods per file', () => {
    const dir = makeTempDir('manifests')
    writeFileSync(join(dir, 'a.yaml'), 'id: one\nstatus_port: 1001\n---\nid: two\nstatus_port: 1002\n')
    writeFileSync(join(dir, 'b.yml'), 'id: three\nstatus_port: 1003\n')
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest')
    const pods = loadManifests([dir], { node: 'n' })
    assert.deepEqual(
      pods.map((p) => p.id),
      ['one', 'two', 'three'],
    )
  })
})

describe('bad manifests', () => {
  it('report a YAML syntax error with the file and line', () => {
    const error = manifestError(() => loadManifests([fixture('bad-yaml.yaml')]))
    assert.equal(error.file, fixture('bad-yaml.yaml'))
    assert.ok(error.line !== undefined && error.line >= 5 && error.line <= 6, `line ${error.line}`)
    assert.match(error.message, /^.*bad-yaml\.yaml:\d+: YAML syntax error: /)
    assert.doesNotMatch(error.message, /\n/, 'one line')
  })

  it('name the file, line and key of an unknown check type, and list the types', () => {
    const error = manifestError(() => loadManifests([fixture('bad-type.yaml')]))
    assert.equal(error.line, 7)
    assert.equal(error.key, 'checks[1].type')
    assert.equal(
      error.message,
      `${fixture('bad-type.yaml')}:7: checks[1].type: unknown check type "smtp"; the types are http, https, tcp, grpc, grpcs, exec, push, probe, redis, rediss, postgres, postgresql, mysql, mariadb, memcached, amqp, amqps, nats, mqtt, mqtts, file`,
    )
  })

  it('name the file, line and key of a bad port', () => {
    const error = manifestError(() => loadManifests([fixture('bad-port.yaml')]))
    assert.equal(
      error.message,
      `${fixture('bad-port.yaml')}:4: status_port: "eighty" is not a port; use a number from 1 to 65535`,
    )
  })

  it('refuse a timeout that is not below the interval', () => {
    const error = manifestError(() => loadManifests([fixture('bad-timeout.yaml')]))
    assert.equal(error.key, 'checks[0].timeout')
    assert.equal(error.line, 6)
    assert.match(error.message, /5s is not below the interval \(5s\)/)
  })

  it('refuse a check timeout over a day, which no timer of a run can hold', () => {
    const dir = makeTempDir('manifest-timeout')
    const file = join(dir, 'a.yaml')
    writeFileSync(
      file,
      'id: a\nchecks:\n  - name: slow\n    url: http://127.0.0.1:9/\n    interval: 30d\n    timeout: 25d\n',
    )
    const error = manifestError(() => loadManifests([file]))
    assert.equal(error.key, 'checks[0].timeout')
    assert.match(error.message, /25d is longer than a check may take, 1d; a health check that needs longer is a job/)
    writeFileSync(
      file,
      'id: a\nchecks:\n  - name: slow\n    url: http://127.0.0.1:9/\n    interval: 30d\n    timeout: 1d\n',
    )
    assert.equal(loadManifests([file])[0]?.checks[0]?.timeoutMs, 86_400_000)
  })

  it('explain the other common mistakes in one sentence each', () => {
    const cases: [string, RegExp][] = [
      ['status_port: 8001\n', /a\.yaml:1: `id` is required/],
      ['- just\n- a list\n', /a\.yaml:1: a manifest must be a YAML mapping/],
      ['id: a\n', /a\.yaml:1: pod "a" has nothing to check; add `status_port`/],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    intervall: 5s\n',
        /a\.yaml:5: checks\[0\]\.intervall: unknown key for a http check; did you mean "interval"\?; the keys are /,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: https://h:1/\n    ca_file: ca.pem\n',
        /a\.yaml:5: checks\[0\]\.ca_file: unknown key for a https check; write it under tls: \(tls: \{ ca_file: … \}\)$/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    interval: soon\n',
        /a\.yaml:5: checks\[0\]\.interval: "soon" is not a duration/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    interval: -5s\n',
        /a\.yaml:5: checks\[0\]\.interval: must be a positive duration such as 5s or 500ms, got -5s$/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    grace: -10\n',
        /a\.yaml:6: checks\[0\]\.grace: must be a positive duration such as 5s or 500ms, got -10$/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: postgress\n    url: postgres://db/app\n',
        /a\.yaml:4: checks\[0\]\.type: unknown check type "postgress"; did you mean "postgres"\?; the types are /,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: tcp\n    address: db\n',
        /a\.yaml:5: checks\[0\]\.address: "db" is not host:port/,
      ],
      // One line, with the value as written: its line break shown, not broken.
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    method: "get /x HTTP/1.1\\r\\nX: y"\n',
        /^a\.yaml:5: checks\[0\]\.method: "get \/x HTTP\/1\.1\\x0d\\nX: y" is not an HTTP method$/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n  - name: x\n    url: http://h:2/\n',
        /a\.yaml:5: checks\[1\]\.name: "x" is used twice/,
      ],
      ['id: a\nchecks:\n  - name: x\n    url: ftp://h/\n', /a\.yaml:4: checks\[0\]\.url: cannot tell the check type/],
      ['id: a\nstatus_port: 1\nstatus_http: sure\n', /a\.yaml:3: status_http: "sure" is not true or false/],
      [
        'id: a\nchecks:\n  - name: x\n    url: https://h:1/\n    tls:\n      cert_file: c.pem\n',
        /a\.yaml:6: checks\[0\]\.tls\.key_file: a client certificate needs both cert_file and key_file/,
      ],
      ['id: a\nchecks:\n  - name: x\n    type: push\n', /a\.yaml:3: checks\[0\]: a push check needs a `period`/],
      ['id: a\nchecks:\n  - name: x\n    command: []\n', /a\.yaml:4: checks\[0\]\.command: must be a command line/],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://u:50%off@h:1/\n',
        /a\.yaml:4: checks\[0\]\.url: "http:\/\/u:\*\*\*@h:1\/": the password has a malformed %-escape; write a literal % as %25$/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: redis\n    url: redis://:50%off@h:6379\n',
        /a\.yaml:5: checks\[0\]\.url: .*the password has a malformed %-escape; write a literal % as %25$/,
      ],
    ]
    for (const [text, expected] of cases) {
      const error = manifestError(() => parseManifest(text, 'a.yaml'))
      assert.match(error.message, expected)
    }
  })

  it('refuse schemes no checker speaks (MongoDB) at load, with the file, the line and what to do instead', () => {
    const cases: [string, string][] = [
      [
        'id: a\nchecks:\n  - name: db\n    url: mongodb://db.internal:27017/app\n',
        'a.yaml:4: checks[0].url: mongodb:// cannot be checked: probekit has no MongoDB checker; check MongoDB from the app with a custom probe (docs/probes.md, "MongoDB: a custom probe")',
      ],
      [
        'id: a\nchecks:\n  - name: db\n    url: mongodb+srv://user:s3cret@cluster0.example.net/app\n',
        'a.yaml:4: checks[0].url: mongodb+srv:// cannot be checked: probekit has no MongoDB checker;',
      ],
      [
        'id: a\nchecks:\n  - name: db\n    type: mongodb\n    url: mongodb://db:27017\n',
        'a.yaml:4: checks[0].type: "mongodb" cannot be checked: probekit has no MongoDB checker;',
      ],
      [
        'id: a\nchecks:\n  - name: db\n    type: probe\n    url: mongodb://db:27017\n',
        'a.yaml:5: checks[0].url: mongodb:// cannot be checked: probekit has no MongoDB checker;',
      ],
    ]
    for (const [text, expected] of cases) {
      const error = manifestError(() => parseManifest(text, 'a.yaml'))
      assert.ok(error.message.startsWith(expected), error.message)
      assert.doesNotMatch(error.message, /s3cret/)
      assert.doesNotMatch(error.message, /\n/, 'one line')
    }
  })

  it('name a port out of range as such, in URLs, addresses and port keys', () => {
    const cases: [string, string][] = [
      [
        'id: a\nchecks:\n  - name: x\n    url: tcp://db:70000\n',
        'a.yaml:4: checks[0].url: "tcp://db:70000": port 70000 is out of range 1–65535',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: https://h:99999/healthz\n',
        'a.yaml:4: checks[0].url: "https://h:99999/healthz": port 99999 is out of range 1–65535',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: redis://:pw@cache:65536/0\n',
        'a.yaml:4: checks[0].url: "redis://:***@cache:65536/0": port 65536 is out of range 1–65535',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: tcp\n    address: db:70000\n',
        'a.yaml:5: checks[0].address: port 70000 is out of range 1–65535',
      ],
      ['id: a\nstatus_port: 70000\n', 'a.yaml:2: status_port: port 70000 is out of range 1–65535'],
      ['id: a\nstatus_port: 0\n', 'a.yaml:2: status_port: port 0 is out of range 1–65535'],
    ]
    for (const [text, expected] of cases) {
      assert.equal(manifestError(() => parseManifest(text, 'a.yaml')).message, expected)
    }
  })

  it('refuse the same pod on the same node in two files', () => {
    const dir = makeTempDir('dupes')
    writeFileSync(join(dir, 'a.yaml'), 'id: one\nnode: n\nstatus_port: 1001\n')
    writeFileSync(join(dir, 'b.yaml'), 'id: one\nnode: n\nstatus_port: 1002\n')
    const error = manifestError(() => loadManifests([dir]))
    assert.match(error.message, /b\.yaml: id: pod "one" on node "n" is also declared in .*a\.yaml/)
  })

  it("read a push check's token or token_file (relative to the manifest), and never echo a bad token", () => {
    const dir = makeTempDir('push-token')
    writeFileSync(join(dir, 'nightly.token'), '# rotate yearly\nnightly-secret-0123456789\nnext-secret-0123456789abc\n')
    writeFileSync(
      join(dir, 'jobs.yaml'),
      'id: jobs\nchecks:\n  - { name: backup, type: push, period: 1h, token: "backup-secret-0123456789" }\n  - { name: nightly, type: push, period: 1d, token_file: nightly.token }\n  - { name: plain, type: push, period: 1h }\n',
    )
    const tokens = Object.fromEntries(only([dir]).map((c) => [c.check, c.kind === 'push' ? c.tokens : 'not push']))
    assert.deepEqual(tokens, {
      backup: ['backup-secret-0123456789'],
      nightly: ['nightly-secret-0123456789', 'next-secret-0123456789abc'],
      plain: undefined,
    })
    assert.ok(
      only([dir]).every((c) => !c.target.includes('secret')),
      'a token in a target',
    )

    const cases: [string, RegExp][] = [
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    token: hunter2\n',
        /^a\.yaml:6: checks\[0\]\.token — a token of 7 characters is too easy to guess; use at least 16/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    token: "two words here, long enough"\n',
        /checks\[0\]\.token — a token is one word/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    token: backup-secret-0123456789\n    token_file: t\n',
        /checks\[0\]\.token_file: give `token` or `token_file`, not both/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    token_file: missing.token\n',
        /a\.yaml:6: checks\[0\]\.token_file: .*missing\.token does not exist/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    token: backup-secret-0123456789\n',
        /checks\[0\]\.token — unknown key for a http check/,
      ],
      [
        'id: a\nlabels: { pod: x }\nchecks:\n  - name: x\n    url: http://h:1/\n',
        /a\.yaml:2: labels\.pod: is set by probekit on every alert/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    labels: { 2team: ops }\n',
        /checks\[0\]\.labels\.2team: is not a label name/,
      ],
      [
        'id: a\nmaintenance: [{ days: [sat], from: "02:00", to: "04:00", tz: Mars/Olympus }]\nchecks:\n  - name: x\n    url: http://h:1/\n',
        /a\.yaml:2: maintenance\[0\]\.tz: "Mars\/Olympus" is not a time zone/,
      ],
      [
        'id: a\nmaintenance: [{ days: [caturday], from: "02:00", to: "04:00" }]\nchecks:\n  - name: x\n    url: http://h:1/\n',
        /maintenance\[0\]\.days\[0\]: "caturday" is not a weekday/,
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    maintenance: [{ from: "2am", to: "04:00" }]\n',
        /checks\[0\]\.maintenance\[0\]\.from: "2am" is not a time of day; use HH:MM/,
      ],
    ]
    for (const [text, expected] of cases) {
      const error = manifestError(() => parseManifest(text, 'a.yaml'))
      assert.match(error.message, expected)
      assert.doesNotMatch(error.message, /hunter2|two words|backup-secret/)
    }
  })

  it("carry alert labels: the pod's, with a check's own over them", () => {
    const [pod] = parseManifest(
      'id: a\nlabels: { team: ops, tier: web }\nchecks:\n  - { name: x, url: "http://h:1/", labels: { tier: db } }\n  - { name: y, url: "http://h:1/" }\n',
      'a.yaml',
    )
    assert.deepEqual(
      pod?.checks.map((c) => c.labels),
      [
        { team: 'ops', tier: 'db' },
        { team: 'ops', tier: 'web' },
      ],
    )
  })

  it('keep their words through redaction when a key reads as a credential name', () => {
    const cases: [string, string][] = [
      [
        'id: a\nchecks:\n  - name: x\n    type: push\n    period: 1h\n    token: hunter2abc\n',
        'a.yaml:6: checks[0].token — a token of 10 characters is too easy to guess',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    headers:\n      Authorization: [1]\n',
        'a.yaml:6: checks[0].headers.Authorization — must be a string',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    headers:\n      X-Api-Key: "v\\r\\nInjected: 1"\n',
        'a.yaml:6: checks[0].headers.X-Api-Key — holds a character an HTTP header value cannot: a line break, another control character, or one beyond Latin-1',
      ],
      [
        'id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    password: p\n',
        'a.yaml:5: checks[0].password — unknown key',
      ],
      ['id: a\nchecks:\n  - name: x\n    url: http://h:1/\n    timeout: soon\n', 'a.yaml:5: checks[0].timeout: '],
    ]
    for (const [text, start] of cases) {
      // Every log line of the monitor is redacted whole: the message must survive it.
      const shown = redact(manifestError(() => parseManifest(text, 'a.yaml')).message)
      assert.ok(shown.startsWith(start), shown)
      assert.doesNotMatch(shown, /\*\*\*/)
    }
  })

  it('take node names as host names write them, and refuse others with the file, line and key', () => {
    for (const node of ['web-1', 'aws1.example.com', 'db-7.internal', 'build_agent.3', '10.0.0.5']) {
      const [pod] = parseManifest(`id: a\nnode: ${node}\nstatus_port: 8001\n`, 'a.yaml')
      assert.equal(pod?.node, node)
    }
    const cases: [string, string][] = [
      [
        'id: okpod\nstatus_port: 9199\nstatus_http: true\nnode: "n\\u202eevil\\u001b[2J"\n',
        // The bidi control is shown as an escape too: the message is inert in a terminal.
        'a.yaml:4: node: "n\\u202eevil\\u001b[2J" is not a usable node name; use a host name: letters, digits, ".", "_" and "-", as in web-1 or db-7.internal',
      ],
      [
        'id: a\nnode: web/1\nstatus_port: 8001\n',
        'a.yaml:2: node: "web/1" is not a usable node name; use a host name: letters, digits, ".", "_" and "-", as in web-1 or db-7.internal',
      ],
      [
        'id: a\nstatus:\n  port: 8001\n  host: "db 7"\n',
        'a.yaml:4: status.host: "db 7" is not a host name; use letters, digits, ".", "_" and "-" (db-7.internal), or an IP address',
      ],
      [
        'id: a\nchecks:\n  - { name: x, type: tcp, address: "db\\u202e7:5432" }\n',
        'a.yaml:3: checks[0].address: "db\\u202e7" is not a host name; use letters, digits, ".", "_" and "-" (db-7.internal), or an IP address',
      ],
    ]
    for (const [text, expected] of cases)
      assert.equal(manifestError(() => parseManifest(text, 'a.yaml')).message, expected)
    // --node (or this host's name) is held to the same rule.
    assert.match(
      manifestError(() => parseManifest('id: a\nstatus_port: 8001\n', 'a.yaml', { node: 'web 1' })).message,
      /^a\.yaml:1: the node name "web 1" \(--node\) is not usable; use a host name/,
    )
    // IPv6 hosts are hosts too.
    const [tcp] = parseManifest(
      'id: a\nchecks:\n  - { name: x, type: tcp, host: "::1", port: 5432 }\n',
      'a.yaml',
    ).flatMap((p) => p.checks)
    assert.equal(tcp?.target, '[::1]:5432')
  })

  it('refuse YAML aliases that expand too far (a "billion laughs") with the file and the line', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
      const previous = String.fromCharCode(97 + i)
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`)
    }
    const text = `id: bomb\nstatus_port: 9199\nconfig:\n${levels.map((l) => `  ${l}\n`).join('')}`
    assert.equal(
      manifestError(() => parseManifest(text, 'a.yaml')).message,
      'a.yaml:5: YAML aliases (*a and others) expand to too much data; write the values out instead of nesting aliases',
    )
    // A few aliases, as people use them to share settings, are fine.
    const shared =
      'id: a\nchecks:\n  - { name: x, url: "http://h:1/", labels: &team { team: ops } }\n  - { name: y, url: "http://h:2/", labels: *team }\n'
    assert.deepEqual(
      parseManifest(shared, 'a.yaml').flatMap((p) => p.checks.map((c) => c.labels)),
      [{ team: 'ops' }, { team: 'ops' }],
    )
  })

  it('name the file and the pod in a mistake no reader words yet', () => {
    const error = manifestError(() =>
      parseManifest('# a comment\nid: a\nchecks:\n  - { name: x, url: "grpc://h:1/%zz" }\n', 'a.yaml'),
    )
    assert.match(error.message, /^a\.yaml:2: /)
  })

  it('name a missing path', () => {
    const error = manifestError(() => loadManifests(['/nonexistent/pods']))
    assert.equal(
      error.message,
      '/nonexistent/pods: no such file or directory; pass a manifest file or a directory of them',
    )
  })
})
