import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { before, describe, it } from 'node:test'
import { buildCli, cli, ROOT } from './run-cli.js'

const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }

describe('probekit (the binary)', () => {
  before(() => buildCli())

  it('lists the commands with --help, exit 0', async () => {
    const run = await cli(['--help'])
    assert.equal(run.code, 0)
    for (const command of ['check', 'probe', 'worker', 'gen', 'monitor', 'inspect']) {
      assert.match(run.stdout, new RegExp(`^ {2}${command} +\\S`, 'm'), command)
    }
    assert.match(run.stdout, /never 2, which Docker reserves/)
    assert.match(run.stdout, /^Examples:$/m)
  })

  it('prints the help and a usage error without a command, exit 1', async () => {
    const run = await cli([])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /^Usage: probekit <command>/m)
    assert.match(run.stdout, /usage error: name a command/)
  })

  it('prints the package version with --version, -V, or after any command', async () => {
    const cases = [['--version'], ['-V'], ['check', '--version'], ['gen', '-V'], ['probe', '--version']]
    const runs = await Promise.all(cases.map((args) => cli(args)))
    runs.forEach((run, i) => {
      assert.deepEqual([run.code, run.stdout], [0, `${version}\n`], cases[i]?.join(' '))
    })
  })

  it('names an unknown command and the known ones, exit 1', async () => {
    const run = await cli(['chekc', 'http://127.0.0.1/'])
    assert.equal(run.code, 1)
    assert.equal(
      run.stdout,
      'probekit: usage error: unknown command "chekc"; did you mean probekit check?; the commands are check, probe, worker, gen, monitor, inspect, silence. See "probekit --help".\n',
    )
  })

  for (const command of ['check', 'probe', 'gen']) {
    it(`shows ${command}'s options and examples with "${command} --help", -h and "help ${command}"`, async () => {
      const long = await cli([command, '--help'])
      assert.equal(long.code, 0)
      assert.match(long.stdout, new RegExp(`^Usage: probekit ${command} `))
      assert.match(long.stdout, /^Examples:$/m)
      assert.match(long.stdout, new RegExp(`^ {2}probekit ${command} `, 'm'))
      const [short, viaHelp] = await Promise.all([cli([command, '-h']), cli(['help', command])])
      assert.equal(short?.stdout, long.stdout)
      assert.equal(viaHelp?.stdout, long.stdout)
    })
  }

  it('answers --help for every command with exit 0', async () => {
    const commands = ['worker', 'monitor', 'inspect']
    const runs = await Promise.all(commands.map((command) => cli([command, '--help'])))
    runs.forEach((run, i) => {
      assert.equal(run.code, 0, `${commands[i]}: ${run.stdout}`)
      assert.match(run.stdout, /probekit/)
    })
  })

  it('exits 1, never 2, for an unhealthy target and for a usage error', async () => {
    const unhealthy = await cli(['check', 'tcp://127.0.0.1:1'])
    assert.equal(unhealthy.code, 1)
    const usage = await cli(['check', '--no-such-flag'])
    assert.equal(usage.code, 1)
    assert.match(
      usage.stdout,
      /^probekit check: usage error: unknown option "--no-such-flag"\nSee "probekit check --help"\.\n$/,
    )
  })
})
