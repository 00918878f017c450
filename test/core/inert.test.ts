import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cutShort, jsonSafe, lineSafe, terminalSafe } from '../../src/core/inert.js'
import { writeLog } from '../../src/core/logger.js'

/** Any raw control character a terminal acts on: C0 but newline and tab, ESC, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
/** Every bidirectional control: embeddings and overrides, isolates, and the three marks. */
const BIDI_CONTROLS = '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c'
const RAW_BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/

describe('terminalSafe', () => {
  it('shows ESC, C1, DEL and carriage returns as visible escapes, keeping newlines and tabs', () => {
    assert.equal(
      terminalSafe('a\u001b[2Jb\u001b]0;title\u0007c\u009b31m\u007f\r\n\td'),
      'a\\x1b[2Jb\\x1b]0;title\\x07c\\x9b31m\\x7f\\x0d\n\td',
    )
  })

  it('leaves printable text, including non-ASCII, as it is', () => {
    const text = 'passing → critical: 503 Service Unavailable ✔ ü 日本 עברית العربية'
    assert.equal(terminalSafe(text), text)
  })

  it('shows every bidirectional control as a \\u escape, so a line reads in the order it was written', () => {
    // "Trojan Source": U+202E makes a terminal show "until 2026" where "6202 litnu" was written.
    assert.equal(terminalSafe('ok \u202e6202 litnu\u202c done'), 'ok \\u202e6202 litnu\\u202c done')
    assert.equal(
      terminalSafe(BIDI_CONTROLS),
      '\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c',
    )
  })
})

describe('lineSafe', () => {
  it('keeps a line one line: newlines are escaped too', () => {
    assert.equal(
      lineSafe('ok\n2026-01-01T00:00:00Z forged line\u001b]52;c;aGk=\u0007'),
      'ok\\n2026-01-01T00:00:00Z forged line\\x1b]52;c;aGk=\\x07',
    )
  })

  it('shows the bidirectional controls as \\u escapes too', () => {
    const line = lineSafe(`comment ${BIDI_CONTROLS}\nnext`)
    assert.doesNotMatch(line, RAW_BIDI)
    assert.equal(line, `comment ${terminalSafe(BIDI_CONTROLS)}\\nnext`)
  })
})

describe('jsonSafe', () => {
  it('escapes DEL and C1 that JSON.stringify leaves raw, and stays the same JSON', () => {
    const value = { output: 'x\u009by\u007fz\u001b' }
    const json = jsonSafe(JSON.stringify(value))
    assert.doesNotMatch(json, RAW_CONTROL)
    assert.match(json, /\\u009b/)
    assert.deepEqual(JSON.parse(json), value)
  })

  it('escapes the bidirectional controls JSON.stringify leaves raw, and stays the same JSON', () => {
    const value = { comment: `OPS-1 ${BIDI_CONTROLS} end` }
    const json = jsonSafe(JSON.stringify(value))
    assert.doesNotMatch(json, RAW_BIDI)
    assert.match(json, /\\u202e/)
    assert.deepEqual(JSON.parse(json), value)
  })
})

describe('cutShort', () => {
  it('keeps a short text, cuts a long one at whole code points with an ellipsis', () => {
    assert.equal(cutShort('abc', 3), 'abc')
    assert.equal(cutShort('abcd', 3), 'abc…')
    // Four astral characters are eight code units, but only four characters: not cut.
    assert.equal(cutShort('😀😀😀😀', 4), '😀😀😀😀')
    assert.equal(cutShort('😀😀😀😀😀', 4), '😀😀😀😀…')
    assert.equal(cutShort('x'.repeat(1_000_000), 2), 'xx…')
  })
})

describe('writeLog', () => {
  it('writes one inert line to a console-style logger', () => {
    const lines: unknown[][] = []
    const logger = { info: (...a: unknown[]) => lines.push(a), warn: () => {}, error: () => {} }
    writeLog(logger, 'info', 'web: passing → critical: \u001b[2J\nfake line\u009b', {})
    assert.equal(lines.length, 1)
    const [line] = lines[0] as [string]
    assert.doesNotMatch(line, RAW_CONTROL)
    assert.ok(!line.includes('\n'))
  })

  it('makes the message and string fields of a pino-style logger inert', () => {
    const calls: unknown[][] = []
    const logger = { info: (...a: unknown[]) => calls.push(a), warn: () => {}, error: () => {}, child: () => logger }
    writeLog(logger, 'info', 'x\u001b[2J', { reason: 'y\u009b', n: 1 })
    const [fields, message] = calls[0] as [Record<string, unknown>, string]
    assert.equal(message, 'x\\x1b[2J')
    assert.deepEqual(fields, { reason: 'y\\x9b', n: 1 })
  })

  it('makes strings nested in the fields inert too, as health transitions and shutdown write them', () => {
    const calls: unknown[][] = []
    const logger = { info: (...a: unknown[]) => calls.push(a), warn: () => {}, error: () => {}, child: () => logger }
    const when = new Date(0)
    const fields = {
      health: { check: 'db', reason: 'bad \u001b[2J\u009b2J \u202e reversed', at: when },
      shutdown: { phases: ['drain\nforged line', 'ok'] },
      plain: { n: 1 },
    }
    writeLog(logger, 'info', 'x', fields)
    const [written] = calls[0] as [typeof fields]
    assert.deepEqual(written, {
      health: { check: 'db', reason: 'bad \\x1b[2J\\x9b2J \\u202e reversed', at: when },
      shutdown: { phases: ['drain\\nforged line', 'ok'] },
      plain: { n: 1 },
    })
    assert.equal(written.plain, fields.plain, 'what needed nothing is passed on as it is')
    assert.equal(fields.health.reason, 'bad \u001b[2J\u009b2J \u202e reversed', 'the caller’s object is not changed')
  })
})
