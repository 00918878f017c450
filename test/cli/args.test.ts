import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type FlagSpecs, parseCommandArgs, parseDuration } from '../../src/cli/args.js'
import { UsageError } from '../../src/cli/usage-error.js'

const flags = {
  timeout: { type: 'string' },
  header: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  watch: { type: 'boolean', negatable: true, default: true },
} as const

function parse(argv: string[], positionals: boolean | ((arg: string) => string) = true) {
  let help = ''
  const line = parseCommandArgs(argv, { flags, help: 'HELP TEXT\n', positionals, out: { write: (t) => (help += t) } })
  return { line, help }
}

function usageError(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error))
    return error.message
  }
  assert.fail('expected a UsageError')
}

describe('the command line of every command', () => {
  it('reads values, repeatable flags, short switches, --no- forms, defaults and positionals', () => {
    const { line } = parse([
      '--timeout',
      '2s',
      '--header=A: b',
      '--header',
      'C: d',
      '-q',
      '--no-watch',
      'x',
      '--',
      '-y',
    ])
    assert.deepEqual(line, {
      values: { timeout: '2s', header: ['A: b', 'C: d'], quiet: true, watch: false },
      positionals: ['x', '-y'],
    })
    assert.deepEqual(parse([]).line?.values, { watch: true }, 'a switch with a default')
    assert.equal(parse(['--watch']).line?.values.watch, true)
  })

  it('prints the help for -h and --help, and returns nothing to run', () => {
    for (const argv of [['-h'], ['--help'], ['--timeout', '3', '--help']]) {
      const { line, help } = parse(argv)
      assert.equal(line, undefined)
      assert.equal(help, 'HELP TEXT\n')
    }
  })

  it('refuses in one sentence: unknown flags (with the one meant), missing values, values for switches, stray arguments', () => {
    const cases: [string[], string][] = [
      [['--timout', '3'], 'unknown option "--timout"; did you mean --timeout?'],
      [['--no-wath'], 'unknown option "--no-wath"; did you mean --no-watch?'],
      [['--no-json'], 'unknown option "--no-json"; did you mean --json?'],
      [['--colour'], 'unknown option "--colour"'],
      [['-x'], 'unknown option "-x"'],
      [['--timeout'], '--timeout needs a value'],
      [['--timeout='], '--timeout needs a value'],
      [['--timeout', '--json'], '--timeout needs a value'],
      [['--timeout', '-q'], '--timeout needs a value'],
      [['--json=yes'], '--json takes no value; write --json alone'],
    ]
    for (const [argv, message] of cases)
      assert.equal(
        usageError(() => parse(argv)),
        message,
        argv.join(' '),
      )
    assert.equal(
      usageError(() => parse(['extra'], false)),
      'unexpected argument "extra"; this command takes only options',
    )
    assert.equal(
      usageError(() => parse(['extra'], (arg) => `write --pod ${arg}`)),
      'write --pod extra',
    )
  })

  it('names the flag with one word more or fewer: the same thing is named per command (--ca, --ca-file)', () => {
    const refused = (spec: FlagSpecs, argv: string[]) =>
      usageError(() => parseCommandArgs(argv, { flags: spec, help: '', positionals: true }))
    const string = { type: 'string' } as const
    assert.equal(refused({ ca: string }, ['--ca-file', 'x']), 'unknown option "--ca-file"; did you mean --ca?')
    assert.equal(
      refused({ 'ca-file': string, 'etcd-ca': string }, ['--ca', 'x']),
      'unknown option "--ca"; did you mean --ca-file or --etcd-ca?',
    )
    assert.equal(
      refused({ 'ca-file': string, 'etcd-ca': string }, ['--ca-file-path', 'x']),
      'unknown option "--ca-file-path"; did you mean --ca-file?',
    )
    // More than two alike is no help; --help is never the one meant.
    assert.equal(
      refused({ 'ca-file': string, 'webhook-file': string, 'auth-token-file': string }, ['--file', 'x']),
      'unknown option "--file"',
    )
    assert.equal(refused({ ca: string }, ['--help-text']), 'unknown option "--help-text"')
  })

  it("says how probekit spells another tool's flag, in place of a guess", () => {
    const spec = {
      flags: { live: { type: 'boolean' } },
      help: '',
      otherTools: { '--health': 'write --live here' },
    } as const
    assert.equal(
      usageError(() => parseCommandArgs(['--health'], spec)),
      'unknown option "--health"; write --live here',
    )
    assert.equal(
      usageError(() => parseCommandArgs(['--health=1'], spec)),
      'unknown option "--health"; write --live here',
    )
    // Only the names given: anything else still gets its guess.
    assert.equal(
      usageError(() => parseCommandArgs(['--lvie'], spec)),
      'unknown option "--lvie"; did you mean --live?',
    )
  })

  it('refuses a name every object inherits as it refuses any unknown flag', () => {
    const spec = { flags: { timeout: { type: 'string' } }, help: '', positionals: true } as const
    assert.equal(
      usageError(() => parseCommandArgs(['--toString'], spec)),
      'unknown option "--toString"',
    )
    assert.equal(
      usageError(() => parseCommandArgs(['--constructor=x', 'http://127.0.0.1:1/'], spec)),
      'unknown option "--constructor"',
    )
    assert.equal(
      usageError(() => parseCommandArgs(['--no-hasOwnProperty'], spec)),
      'unknown option "--no-hasOwnProperty"',
    )
  })

  it('takes a value that starts with a dash, so the range check can name it', () => {
    assert.equal(parse(['--timeout', '-1']).line?.values.timeout, '-1')
    assert.equal(
      usageError(() => parseDuration('-1', '--timeout')),
      '--timeout must be a positive duration such as 2s or 500ms, got -1',
    )
    assert.equal(
      usageError(() => parseDuration('0ms', '--timeout')),
      '--timeout must be a positive duration such as 2s or 500ms, got 0ms',
    )
    assert.match(
      usageError(() => parseDuration('soon', '--timeout')),
      /^--timeout "soon" is not a duration; use/,
    )
    assert.equal(parseDuration('1.5', '--timeout'), 1500)
  })
})
