import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { extractBlocks, ROOT } from './blocks.js'
import { consoleSteps, matchOutput } from './run-block.js'

// The doc-test harness itself: a wrong page must fail, not pass quietly.
describe('doc-test harness', () => {
  it('reads markers, languages and headings of fenced blocks', () => {
    const file = 'test/docs/.harness-sample.md'
    writeFileSync(
      join(ROOT, file),
      '# Page\n\n<!-- doctest: skip (a fragment) -->\n```ts\nhealth.add(x)\n```\n\n## Run\n\n```console\n$ probekit --version\n0.1.0\n```\n\n<!-- doctest: quickstart -->\n\n```js\nconsole.log(1)\n```\n',
    )
    try {
      const blocks = extractBlocks(file)
      assert.deepEqual(
        blocks.map((b) => [b.line, b.lang, b.marker, b.reason, b.heading]),
        [
          [4, 'ts', 'skip', 'a fragment', 'Page'],
          [10, 'console', undefined, undefined, 'Run'],
          [17, 'js', 'quickstart', undefined, 'Run'],
        ],
      )
    } finally {
      rmSync(join(ROOT, file))
    }
  })

  it('compares console output exactly, up to durations, timestamps and … wildcards', () => {
    const [step] = consoleSteps('$ probekit check redis://x\nok redis://x PONG in 1.1 ms\n')
    assert.equal(step?.command, 'probekit check redis://x')
    assert.equal(matchOutput(step?.expected ?? [], ['ok redis://x PONG in 0.3 ms']), undefined)
    assert.match(matchOutput(step?.expected ?? [], ['failed redis://x: refused']) ?? '', /expected/)
    assert.equal(matchOutput(['a', '…', 'z'], ['a', 'b', 'c', 'z']), undefined)
    assert.equal(matchOutput(['a', '…', 'z'], ['a', 'z']), undefined)
    assert.ok(matchOutput(['a', '…', 'z'], ['a', 'b']))
    assert.equal(matchOutput(['schemes: http:// … file://)'], ['schemes: http:// tcp:// file://)']), undefined)
    assert.ok(matchOutput(['"durationMs": 1.1,'], ['"durationMs": 15.631459000000007,']), 'unrounded ms fail')
    assert.equal(matchOutput(['"durationMs": 1.1,'], ['"durationMs": 0.4,']), undefined)
    assert.ok(matchOutput(['deadline 200 ms'], ['deadline 300 ms']), 'deadlines are not durations')
    assert.equal(matchOutput(['"durationMs": 3.142,'], ['"durationMs": 65.007,']), undefined)
    assert.equal(matchOutput(['"durationMs": 3.142,'], ['"durationMs": 65,']), undefined)
  })
})
