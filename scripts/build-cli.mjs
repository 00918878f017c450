#!/usr/bin/env node
// Bundles the CLI into dist/bin/:
// - check.cjs: `probekit check` alone, one minified CommonJS file (no ESM loader, one file
//   read at start-up). Each probe sits in it behind a lazy initializer, so only the probes the
//   targets' schemes need are evaluated.
// - probekit.js + chunks/: every command, ESM split into a chunk per command and per probe.
// Packages (drivers, yaml) stay external and load only when a command needs them.
//
// Tests build too (several at once), so the bundle is written to a fresh directory and
// moved into place file by file, the entry last: a CLI starting meanwhile sees either the
// old bundle or the new one, never a half-written file. Chunk names carry content hashes.
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url).pathname
const outdir = join(root, 'dist/bin')
const staging = join(root, `dist/.bin-${process.pid}`)
rmSync(staging, { recursive: true, force: true })
try {
  await build({
    absWorkingDir: root,
    entryPoints: { probekit: 'src/cli/bin.ts' },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
  })
  await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/bin-check.ts'],
    outfile: join(staging, 'check.cjs'),
    // Minified: V8 scans the whole file at every start, and half the size is half the scan.
    // Every error class names itself (`override name = …`), so no message depends on a
    // renamed identifier.
    minify: true,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    legalComments: 'none',
    logLevel: 'warning',
  })
  mkdirSync(join(outdir, 'chunks'), { recursive: true })
  const chunks = readdirSync(join(staging, 'chunks'))
  for (const name of chunks) renameSync(join(staging, 'chunks', name), join(outdir, 'chunks', name))
  renameSync(join(staging, 'check.cjs'), join(outdir, 'check.cjs'))
  renameSync(join(staging, 'probekit.js'), join(outdir, 'probekit.js'))
  // Chunks of older builds are unreachable from the new entry; remove them.
  const current = new Set(chunks)
  for (const name of readdirSync(join(outdir, 'chunks'))) {
    if (!current.has(name)) rmSync(join(outdir, 'chunks', name), { force: true })
  }
} finally {
  rmSync(staging, { recursive: true, force: true })
}
