import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type RouteSpec, RouteTable } from '../../src/monitor/api/routes.js'

interface Named extends RouteSpec {
  name: string
}

const table = new RouteTable<Named>([
  { name: 'index', methods: ['GET', 'HEAD'], path: '/v1' },
  { name: 'checks', methods: ['GET', 'HEAD'], path: '/v1/checks' },
  { name: 'check', methods: ['GET', 'HEAD'], path: '/v1/checks/*' },
  { name: 'pod', methods: ['GET', 'HEAD'], path: '/v1/pods/:pod' },
  { name: 'push', methods: ['POST', 'PUT', 'GET'], path: '/v1/push/*' },
  { name: 'silences', methods: ['GET', 'HEAD'], path: '/v1/silences' },
  { name: 'silence-add', methods: ['POST'], path: '/v1/silences' },
  { name: 'silence-end', methods: ['DELETE'], path: '/v1/silences/:id' },
  { name: 'silence-expire', methods: ['POST'], path: '/v1/silences/:id/expire' },
  { name: 'metrics', methods: ['GET', 'HEAD'], path: '/metrics', exact: true },
  { name: 'page', methods: ['GET', 'HEAD'], path: '/', exact: true },
])

function found(method: string, path: string) {
  const match = table.match(method, path)
  assert.equal(match.kind, 'found', `${method} ${path} is routed`)
  if (match.kind !== 'found') throw new Error('unreachable')
  return { name: match.route.name, params: { ...match.params }, rest: [...match.rest] }
}

describe("the monitor API's route matcher", () => {
  it('routes literal paths, :params and a trailing * (zero or more segments), first match first', () => {
    assert.deepEqual(found('GET', '/v1/checks'), { name: 'checks', params: {}, rest: [] })
    assert.deepEqual(found('GET', '/v1/checks/n/p/c/history'), {
      name: 'check',
      params: {},
      rest: ['n', 'p', 'c', 'history'],
    })
    assert.deepEqual(found('GET', '/v1/pods/web'), { name: 'pod', params: { pod: 'web' }, rest: [] })
    assert.deepEqual(found('POST', '/v1/push'), { name: 'push', params: {}, rest: [] })
    assert.deepEqual(found('POST', '/v1/silences/abc/expire'), {
      name: 'silence-expire',
      params: { id: 'abc' },
      rest: [],
    })
  })

  it('answers 405 with every method the path knows, in table order, for a known path', () => {
    const post = table.match('POST', '/v1/checks')
    assert.equal(post.kind, 'method')
    assert.deepEqual(post.kind === 'method' && post.allow, ['GET', 'HEAD'])
    const put = table.match('PUT', '/v1/silences')
    assert.deepEqual(put.kind === 'method' && put.allow, ['GET', 'HEAD', 'POST'])
    // HEAD is served only where a route lists it: a push by HEAD is a wrong method.
    const head = table.match('HEAD', '/v1/push/backup')
    assert.deepEqual(head.kind === 'method' && [head.route.name, head.allow], ['push', ['POST', 'PUT', 'GET']])
  })

  it('answers none (404) for a path no route knows, whatever the method', () => {
    for (const [method, path] of [
      ['GET', '/v2/things'],
      ['POST', '/v1/nothing'],
      ['GET', '/v1/pods'],
      ['GET', '/v1/pods/a/b'],
      ['GET', '/v1/silences/a/b/c'],
    ] as const) {
      assert.equal(table.match(method, path).kind, 'none', `${method} ${path}`)
    }
  })

  it('decodes each segment on its own: an encoded slash stays inside its parameter', () => {
    assert.deepEqual(found('GET', '/v1/pods/web%20shop'), { name: 'pod', params: { pod: 'web shop' }, rest: [] })
    assert.deepEqual(found('GET', '/v1/checks/n%2Fp%2Fc'), { name: 'check', params: {}, rest: ['n/p/c'] })
    // A literal may be spelled encoded; an encoded slash never splits one.
    assert.equal(found('GET', '/v1/%63hecks').name, 'checks')
    assert.equal(table.match('GET', '/v1%2Fchecks').kind, 'none')
  })

  it('refuses a path that is not valid percent-encoding', () => {
    assert.equal(table.match('GET', '/v1/pods/%zz').kind, 'bad-encoding')
    assert.equal(table.match('GET', '/nowhere/%E0%A4').kind, 'bad-encoding')
  })

  it('gives parameters no prototype: __proto__ and constructor are plain values, nothing is polluted', () => {
    const proto = table.match('DELETE', '/v1/silences/__proto__')
    assert.equal(proto.kind, 'found')
    if (proto.kind !== 'found') return
    assert.equal(proto.params.id, '__proto__')
    assert.equal(Object.getPrototypeOf(proto.params), null)
    assert.equal(({} as Record<string, unknown>).id, undefined, 'Object.prototype is untouched')
    const ctor = table.match('GET', '/v1/pods/constructor')
    assert.equal(ctor.kind === 'found' && ctor.params.pod, 'constructor')
    const none = table.match('GET', '/v1/checks')
    assert.equal(none.kind === 'found' && none.params.constructor, undefined, 'no inherited names')
  })

  it('folds empty segments (a trailing slash) except on exact routes', () => {
    assert.equal(found('GET', '/v1/checks/').name, 'checks')
    assert.equal(found('GET', '//v1//checks').name, 'checks')
    assert.equal(found('GET', '/v1/').name, 'index')
    assert.equal(found('GET', '/metrics').name, 'metrics')
    assert.equal(table.match('GET', '/metrics/').kind, 'none')
    assert.equal(found('GET', '/').name, 'page')
    assert.equal(table.match('GET', '//').kind, 'none')
  })

  it('refuses a table with a parameter on an exact route, or * before the end', () => {
    assert.throws(() => new RouteTable([{ methods: ['GET'], path: '/a/:b', exact: true }]), /exact route/)
    assert.throws(() => new RouteTable([{ methods: ['GET'], path: '/a/*/b' }]), /only at the end/)
  })
})
