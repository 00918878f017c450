import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { jsonSafe, lineSafe, terminalSafe } from '../../src/core/inert.js'
import { writeLog } from '../../src/core/logger.js'

/** Any raw control character a terminal acts on: C0 but newline and tab, ESC, DEL, C1. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

describe('terminalSafe', () => {
  it('shows ESC, C1, DEL and carriage returns as visible escapes, keeping newlines and tabs', () => {
    assert.equal(
      terminalSafe('a\u001b[2Jb\u001b]0;title\u0007c\u009b31m\u007f\r\n\td'),
      'a\\x1b[2Jb\\x1b]0;title\\x07c\\x9b31m\\x7f\\x0d\n\td',
    )
  })

  it('leaves printable text, including non-ASCII, as it is', () => {
    const text = 'passing → critical: 503 Service Unavailable ✔ ü 日本'
    assert.equal(terminalSafe(text), text)
  })
})

describe('lineSafe', () => {
  it('keeps a line one line: newlines are escaped too', () => {
    assert.equal(
      lineSafe('ok\n2026-01-01T00:00:00Z forged line\u001b]52;c;aGk=\u0007'),
      'ok\\n2026-01-01T00:00:00Z forged line\\x1b]52;c;aGk=\\x07',
    )
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
})
