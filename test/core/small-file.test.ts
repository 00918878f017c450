import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileProblem, readSmallFileSync, SmallFileError } from '../../src/core/small-file.js'
import { buildCli, cli } from '../cli/run-cli.js'
import { makeTempDir } from '../support/server-process.js'

const problemOf = (path: string, maxBytes?: number): string => {
  try {
    readSmallFileSync(path, maxBytes)
  } catch (error) {
    return fileProblem(error)
  }
  assert.fail(`${path} was read`)
}

describe('readSmallFileSync', () => {
  it('reads a regular file, also through a link', () => {
    const dir = makeTempDir('small-file')
    writeFileSync(join(dir, 'ca.pem'), 'PEM')
    symlinkSync(join(dir, 'ca.pem'), join(dir, 'link.pem'))
    assert.equal(readSmallFileSync(join(dir, 'ca.pem')).toString(), 'PEM')
    assert.equal(readSmallFileSync(join(dir, 'link.pem')).toString(), 'PEM')
  })

  it('refuses a named pipe without waiting for a writer, a device, a directory and a socket-less path', () => {
    const dir = makeTempDir('small-file')
    execFileSync('mkfifo', [join(dir, 'pipe')])
    symlinkSync('/dev/zero', join(dir, 'zero'))
    mkdirSync(join(dir, 'sub'))
    assert.equal(problemOf(join(dir, 'pipe')), 'a named pipe (FIFO), not a regular file')
    assert.equal(problemOf(join(dir, 'zero')), 'a device, not a regular file')
    assert.equal(problemOf(join(dir, 'sub')), 'a directory, not a regular file')
    assert.equal(problemOf(join(dir, 'missing')), 'no such file')
  })

  it('refuses a file over the limit without reading it', () => {
    const dir = makeTempDir('small-file')
    writeFileSync(join(dir, 'big'), Buffer.alloc(2048))
    assert.equal(problemOf(join(dir, 'big'), 1024), 'over 1 KB, too large for this file')
    assert.equal(readSmallFileSync(join(dir, 'big'), 2048).length, 2048)
    try {
      readSmallFileSync(join(dir, 'big'), 1024)
    } catch (error) {
      assert.ok(error instanceof SmallFileError)
      assert.equal(error.code, 'EFBIG')
    }
  })
})

describe('probekit check --ca', () => {
  it('refuses a named pipe as the CA file in one sentence, status 1 (never 2, which Docker reserves), instead of waiting for a writer', async () => {
    buildCli()
    const dir = makeTempDir('check-ca-pipe')
    execFileSync('mkfifo', [join(dir, 'ca.pem')])
    const run = await cli(['check', '--ca', join(dir, 'ca.pem'), 'https://127.0.0.1:1/'], { timeoutMs: 10_000 })
    assert.equal(run.code, 1, run.stdout + run.stderr)
    assert.match(
      run.stdout + run.stderr,
      /--ca \S+ca\.pem: the CA certificate file is a named pipe \(FIFO\), not a regular file; pass a PEM file/,
    )
  })
})
