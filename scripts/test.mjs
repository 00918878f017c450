#!/usr/bin/env node
// Runs the test files (all, or those whose path contains one of the arguments) with
// node's built-in test runner, TypeScript loaded through tsx.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname

function find(dir) {
  const out = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) {
      if (entry !== 'support' && entry !== 'fixtures') out.push(...find(path))
    } else if (entry.endsWith('.test.ts')) out.push(relative(root, path))
  }
  return out
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'))
const files = find(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}
const concurrency = process.env.PROBEKIT_TEST_CONCURRENCY ?? '3'
const args = [
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  '--test-timeout=120000',
  ...passthrough,
  ...files,
]
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PROBEKIT_TEST: '1' },
})
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
