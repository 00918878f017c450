#!/usr/bin/env node
// Bundles the CLI into dist/bin/:
// - check.cjs: `probekit check` alone, one minified CommonJS file (no ESM loader, one file
//   read at start-up). Each probe sits in it behind a lazy initializer, so only the probes the
//   targets' schemes need are evaluated.
// - check-http.cjs, check-tcp.cjs, check-redis.cjs, check-postgres.cjs, check-grpc.cjs: the same command
//   with only that probe (V8 reads and pre-parses every byte of the file it loads, at every
//   start). bin/probekit.js loads one when every target's scheme is in it; the other probes
//   are src/cli/check-elsewhere.ts there, which hands the run to check.cjs.
// - probekit.js + chunks/: every command, ESM split into a chunk per command and per probe.
// Packages (drivers, yaml) stay external and load only when a command needs them.
//
// Tests build too (several at once), so the bundle is written to a fresh directory and
// moved into place file by file, the entry last: a CLI starting meanwhile sees either the
// old bundle or the new one, never a half-written file. Chunk names carry content hashes.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

/** The check bundles: the full one, and slim ones keeping only these probe modules of src/probes. */
const CHECK_BUNDLES = {
  check: undefined,
  'check-http': ['http'],
  'check-tcp': ['tcp'],
  'check-redis': ['redis'],
  'check-postgres': ['postgres'],
  'check-grpc': ['grpc'],
}
const PROBES = ['amqp', 'file', 'grpc', 'http', 'memcached', 'mqtt', 'mysql', 'nats', 'postgres', 'redis', 'tcp']

/** Resolves the probe modules url.ts imports, except `kept`, to check-elsewhere.ts. */
function onlyProbes(kept) {
  const left = PROBES.filter((p) => !kept.includes(p))
  const filter = new RegExp(`^\\./(${left.join('|')})\\.js$`)
  return {
    name: 'only-probes',
    setup(b) {
      b.onResolve({ filter }, (args) =>
        args.importer.endsWith('src/probes/url.ts') ? { path: join(root, 'src/cli/check-elsewhere.ts') } : undefined,
      )
    },
  }
}

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
  for (const [name, kept] of Object.entries(CHECK_BUNDLES)) {
    await build({
      absWorkingDir: root,
      entryPoints: ['src/cli/bin-check.ts'],
      outfile: join(staging, `${name}.cjs`),
      // Minified: V8 scans the whole file at every start, and half the size is half the scan.
      // Every error class names itself (`override name = …`), so no message depends on a
      // renamed identifier.
      minify: true,
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      external: ['./check.cjs'],
      plugins: kept ? [onlyProbes(kept)] : [],
      legalComments: 'none',
      logLevel: 'warning',
    })
    // The first line stamps the bundle with its content hash: bin/probekit.js keys the V8 code
    // cache it keeps for the bundle by it, so that no cache serves another build.
    const file = join(staging, `${name}.cjs`)
    const code = readFileSync(file, 'utf8')
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16)
    writeFileSync(file, `// probekit ${hash}\n${code}`)
  }
  mkdirSync(join(outdir, 'chunks'), { recursive: true })
  const chunks = readdirSync(join(staging, 'chunks'))
  for (const name of chunks) renameSync(join(staging, 'chunks', name), join(outdir, 'chunks', name))
  // The full bundle before the slim ones, which may hand a run to it.
  for (const name of Object.keys(CHECK_BUNDLES)) renameSync(join(staging, `${name}.cjs`), join(outdir, `${name}.cjs`))
  renameSync(join(staging, 'probekit.js'), join(outdir, 'probekit.js'))
  // Chunks of older builds are unreachable from the new entry; remove them.
  const current = new Set(chunks)
  for (const name of readdirSync(join(outdir, 'chunks'))) {
    if (!current.has(name)) rmSync(join(outdir, 'chunks', name), { force: true })
  }
} finally {
  rmSync(staging, { recursive: true, force: true })
}
