#!/usr/bin/env node
// Bundles the CLI into dist/bin/: one small entry plus a chunk per command and per probe,
// so `probekit check http://…` loads the entry, the check command and the http probe and
// nothing else. Packages (drivers, yaml) stay external and load only when a command needs them.
import { rmSync } from 'node:fs'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url).pathname
const outdir = `${root}dist/bin`
rmSync(outdir, { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: { probekit: 'src/cli/bin.ts' },
  outdir,
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
