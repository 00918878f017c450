// A malformed %-escape in a URL's user name or password (`50%off`) is refused when the probe
// is made, in one sentence naming the part and the fix; before, it surfaced as "URI
// malformed" when the check ran, and for nats:// and mqtt:// as an uncaught exception in a
// socket callback, which ended the process (a monitor with it).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { amqp, http, mqtt, mysql, nats, postgres, redis } from '../../src/probes/index.js'
import { filePath, probeForTarget, TargetError } from '../../src/probes/url.js'

const FIX = 'has a malformed %-escape; write a literal % as %25'

describe('malformed %-escapes in URLs', () => {
  it('are refused by probeForTarget (probekit check, typed checks) for every scheme with credentials', async () => {
    for (const target of [
      'http://u:50%off@127.0.0.1:9/',
      'https://50%off:p@127.0.0.1:9/',
      'redis://:50%off@127.0.0.1:6379',
      'postgres://u:50%off@127.0.0.1:5432/db',
      'mysql://u:50%off@127.0.0.1:3306/db',
      'amqp://u:50%off@127.0.0.1:5672',
      'nats://u:50%off@127.0.0.1:4222',
      'mqtt://u:50%off@127.0.0.1:1883',
    ]) {
      await assert.rejects(probeForTarget(target), (error: Error) => {
        assert.ok(error instanceof TargetError, `${target}: ${error}`)
        assert.match(error.message, new RegExp(`: the (password|user name) ${FIX.replace(/[%.]/g, '\\$&')}$`), target)
        if (error.message.includes('the password'))
          assert.doesNotMatch(error.message, /50%off/, 'the password is masked')
        return true
      })
    }
  })

  it('are refused by each probe made from a URL, before any check runs', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => http('http://u:50%off@127.0.0.1:9/'), /^http: "http:\/\/u:\*\*\*@127\.0\.0\.1:9\/": the password has/],
      [
        () => redis('redis://:50%off@127.0.0.1:6379'),
        /^redis: "redis:\/\/:\*\*\*@127\.0\.0\.1:6379": the password has/,
      ],
      [() => nats('nats://50%off@127.0.0.1:4222'), /^nats: ".*": the user name has/],
      [() => mqtt('mqtt://u:50%off@127.0.0.1:1883'), /^mqtt: ".*": the password has/],
      [() => amqp('amqp://u:50%off@127.0.0.1:5672'), /^amqp: ".*": the password has/],
      [() => mysql('mysql://u:50%off@127.0.0.1:3306/db'), /^mysql: ".*": the password has/],
      [() => postgres('postgres://u:50%off@127.0.0.1:5432/db'), /^postgres: ".*": the password has/],
    ]
    for (const [make, expected] of cases) {
      assert.throws(make, (error: Error) => error instanceof TypeError && expected.test(error.message))
    }
    // Well-formed escapes still decode: %25 is a literal %.
    assert.doesNotThrow(() => nats('nats://u:50%25off@127.0.0.1:4222'))
  })

  it('in a file target: a relative path keeps a literal %, a file URL is refused', () => {
    assert.equal(filePath('file:reports/50%off.txt'), 'reports/50%off.txt')
    assert.equal(filePath('file:a%20b'), 'a b')
    // A URL's scheme is case-insensitive (RFC 3986): FILE://localhost/… is a file URL, not a relative path.
    assert.equal(filePath('FILE://localhost/tmp/a%20b'), '/tmp/a b')
    assert.equal(filePath('File:///tmp/x'), '/tmp/x')
    assert.throws(() => filePath('file:///tmp/50%zz'), /"file:\/\/\/tmp\/50%zz": the path has a malformed %-escape/)
  })
})
