/**
 * What a dependency says, and what a request's URL says, comes back from the health paths
 * inert: a terminal that prints `curl`'s output sees escapes, never a raw C1 control (U+009B
 * is a one-byte CSI) or a bidirectional control (U+202E), and JSON parses to the same text.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { createHealth, type Health, type Listening, NotReady } from '../../src/index.js'

// C0 but tab and newline, DEL, C1 and the bidirectional controls: what a body must not hold raw.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/

/** A status text as a hostile or broken dependency might send it. */
const SAID = 'answered 500 Bad \u009b31m red \u202eevil\u202c \u2066x\u2069 \u001b]0;title\u0007 \u007f end'

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
  })
}

describe('health answers are inert', () => {
  let health: Health
  let listening: Listening
  before(async () => {
    health = createHealth({ logger: false, timeout: 300 })
    health.add('db', () => {})
    health.add(
      'echo',
      () => {
        throw new NotReady(SAID)
      },
      { critical: false },
    )
    health.add(
      'search',
      () => {
        throw new NotReady(SAID)
      },
      { groups: ['live'] },
    )
    listening = await health.listen({ port: 0, host: '127.0.0.1' })
  })
  after(async () => {
    await listening.close()
    await health.close()
  })

  for (const [how, path, headers] of [
    ['?format=json', '/readyz?format=json', {}],
    ['Accept: application/health+json', '/livez', { accept: 'application/health+json' }],
  ] as const) {
    it(`escapes C1 and bidirectional controls in health+json (${how}), which parses to the same text`, async () => {
      const { body } = await get(`${listening.url}${path}`, headers)
      assert.doesNotMatch(body, RAW_CONTROL)
      assert.match(body, /\\u009b31m/)
      assert.match(body, /\\u202eevil/)
      const doc = JSON.parse(body) as { checks: Record<string, { output?: string }[]>; output?: string }
      const name = path === '/livez' ? 'search' : 'echo'
      assert.equal(doc.checks[name]?.[0]?.output, SAID)
      if (name === 'search') assert.equal(doc.output, `search: ${SAID}`)
    })
  }

  it('shows the text answer of a failing check with its controls as escapes', async () => {
    const { status, body } = await get(`${listening.url}/livez`)
    assert.equal(status, 503)
    assert.doesNotMatch(body, RAW_CONTROL)
    assert.match(body, /\[-\]search failed: answered 500 Bad \\x9b31m red \\u202eevil\\u202c/)
  })

  it('repeats an excluded name that matches nothing inert, and cut short', async () => {
    const { body } = await get(`${listening.url}/readyz?verbose&exclude=%E2%80%AE,%C2%9B2J`)
    assert.doesNotMatch(body, RAW_CONTROL)
    assert.match(body, /cannot be excluded: no matches for "\\u202e", "\\x9b2J"\n/)

    const long = 'x'.repeat(5000)
    const cut = await get(`${listening.url}/readyz?verbose&exclude=${long}`)
    const line = cut.body.split('\n').find((l) => l.startsWith('warn:')) ?? ''
    assert.match(line, new RegExp(`no matches for "${'x'.repeat(64)}…"$`))

    const json = await get(`${listening.url}/readyz?format=json&exclude=%E2%80%AE,${long}`)
    assert.doesNotMatch(json.body, RAW_CONTROL)
    const notes = (JSON.parse(json.body) as { notes?: string[] }).notes ?? []
    assert.deepEqual(notes, [`no checks match the excluded names \u202e, ${'x'.repeat(64)}…`])
  })

  it('repeats an unknown check name inert, and cut short', async () => {
    const { status, body } = await get(`${listening.url}/readyz/%E2%80%AE%C2%9B${'y'.repeat(200)}`)
    assert.equal(status, 404)
    assert.doesNotMatch(body, RAW_CONTROL)
    assert.equal(body, `not found: no check named "\\u202e\\x9b${'y'.repeat(62)}…" in readyz\n`)
  })
})
