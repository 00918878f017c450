#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): `probekit check` runs every few seconds in
// every container, so it loads one self-contained CommonJS bundle and never starts the
// ESM loader. Every other command loads the ESM bundle, split into a chunk per command.
'use strict'

function missingBuild(error) {
  if (
    error &&
    (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'ENOENT') &&
    /dist[\\/]bin[\\/](check(-\w+)?\.cjs|probekit\.js)'/.test(error.message)
  ) {
    process.stdout.write(
      'probekit: the CLI bundle (dist/bin) is missing; run "npm run build" in the probekit package\n',
    )
    process.exit(1)
  }
  throw error
}

/** The check bundle holding only the probe these schemes need (see scripts/build-cli.mjs). */
const SLIM_CHECK = {
  http: 'http',
  https: 'http',
  tcp: 'tcp',
  redis: 'redis',
  rediss: 'redis',
  postgres: 'postgres',
  postgresql: 'postgres',
}

/**
 * `check-http` when every target of `probekit check` is http(s)://, and so on; `check`, the
 * full bundle, for any other scheme or a mix. Targets are the arguments that start with a
 * scheme and `://` (no flag or flag value does). A slim bundle meeting a scheme it lacks
 * hands the run to the full one, so a wrong guess costs time, never a wrong answer.
 */
function checkBundle(args) {
  let slim
  for (const arg of args) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(arg)?.[1].toLowerCase()
    if (scheme === undefined) continue
    const bundle = Object.hasOwn(SLIM_CHECK, scheme) ? SLIM_CHECK[scheme] : undefined
    if (bundle === undefined || (slim !== undefined && slim !== bundle)) return 'check'
    slim = bundle
  }
  return slim === undefined ? 'check' : `check-${slim}`
}

/**
 * V8's bytecode for the check bundles, kept from one run for the next. A check runs every
 * few seconds, and compiling the functions of its bundle anew each time was the largest part
 * of what probekit adds to the start of a Node process (docs/cli.md, "Start-up").
 *
 * - Where: `$TMPDIR/probekit-code-cache-UID` (like Node's own compile cache, which the other
 *   commands use), a directory this user owns and no one else may enter; anything else at that
 *   path (another user's directory, a symbolic link, a directory open to others) is left alone
 *   and the check runs without a cache. `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
 * - What: per bundle, Node version and architecture, one entry: the bytecode of every function
 *   the run that wrote it compiled (`vm.Script#createCachedData` at exit), stamped with the
 *   bundle's content hash (its first line, written by scripts/build-cli.mjs), modification
 *   time and length, so that an entry never serves another build of the bundle.
 * - Integrity: V8 checks a cache's version, flags and source length, not its bytes, and a
 *   damaged cache can crash the process. Each entry is written twice (each copy to a temporary
 *   name, then renamed) and used only when both copies are byte for byte the same: a torn
 *   write, a truncated or damaged file leaves the copies unequal, and the run compiles from
 *   source and writes the entry again.
 * - Cost: a run that finds no usable entry writes one at exit (a few milliseconds, once); a
 *   location that cannot be written costs a failed mkdir. Nothing here ever fails a check.
 */
const STAMP_PREFIX = '// probekit '
const MAX_CACHE_BYTES = 8 * 1024 * 1024

function codeCacheDir() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE || typeof process.getuid !== 'function') return undefined
  // os.tmpdir() without loading node:os.
  const tmp = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp'
  return `${tmp.length > 1 && tmp.endsWith('/') ? tmp.slice(0, -1) : tmp}/probekit-code-cache-${process.getuid()}`
}

/** A real directory of this user's that no one else may read, write or enter. */
function ownPrivateDir(fs, dir) {
  try {
    const stat = fs.lstatSync(dir)
    return stat.isDirectory() && stat.uid === process.getuid() && (stat.mode & 0o077) === 0
  } catch {
    return false
  }
}

/** Both copies of the entry, when they exist, are alike and of a sane size. */
function readCodeCache(fs, path) {
  try {
    const a = fs.readFileSync(`${path}.a`)
    if (a.length === 0 || a.length > MAX_CACHE_BYTES) return undefined
    const b = fs.readFileSync(`${path}.b`)
    return a.equals(b) ? a : undefined
  } catch {
    return undefined
  }
}

function writeCodeCache(fs, dir, slot, path, script) {
  try {
    try {
      fs.mkdirSync(dir, { mode: 0o700 })
    } catch (error) {
      if (error.code !== 'EEXIST') return
    }
    if (!ownPrivateDir(fs, dir)) return
    const data = script.createCachedData()
    if (data.length === 0 || data.length > MAX_CACHE_BYTES) return
    for (const copy of ['a', 'b']) {
      const temporary = `${path}.${copy}.${process.pid}`
      try {
        fs.writeFileSync(temporary, data, { mode: 0o600, flag: 'wx' })
        fs.renameSync(temporary, `${path}.${copy}`)
      } catch (error) {
        // A full disk: no half-written file is left behind, run after run.
        fs.rmSync(temporary, { force: true })
        throw error
      }
    }
    // Entries of other builds of this bundle, for this Node, and temporary files left behind.
    const name = path.slice(dir.length + 1)
    for (const file of fs.readdirSync(dir)) {
      if (file.startsWith(`${slot}.`) && file !== `${name}.a` && file !== `${name}.b`)
        fs.rmSync(`${dir}/${file}`, { force: true })
    }
  } catch {
    // A cache that cannot be written costs the next run its compilation, nothing else.
  }
}

/** Runs dist/bin/NAME.cjs as require() would, with its bytecode from the last run when there is one. */
function runCheckBundle(name) {
  const fs = require('node:fs')
  const { dirname, join } = require('node:path')
  const file = join(__dirname, '..', 'dist', 'bin', `${name}.cjs`)
  let source
  try {
    source = fs.readFileSync(file, 'utf8')
  } catch (error) {
    missingBuild(error)
  }
  const dir = codeCacheDir()
  // `// probekit <16 hex digits of the bundle's SHA-256>` (scripts/build-cli.mjs).
  const stamp = source.startsWith(STAMP_PREFIX) && source[28] === '\n' ? source.slice(12, 28) : undefined
  // A bundle that imports modules (the full one, for drivers) is left to require(): a script
  // made from a code cache loses its dynamic-import callback (Node 20), and Node's callback for
  // vm scripts (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER) is experimental and says so.
  if (dir === undefined || stamp === undefined || /\bimport\s*\(/.test(source)) return require(file)
  const slot = `${name}-${process.version}-${process.arch}`
  const path = `${dir}/${slot}.${stamp}-${Math.trunc(fs.statSync(file).mtimeMs)}-${source.length}`
  const cachedData = ownPrivateDir(fs, dir) ? readCodeCache(fs, path) : undefined
  const { Script } = require('node:vm')
  // The wrapper require() puts around a CommonJS module, on a line of its own so that the
  // bundle's lines and columns in a stack trace are the file's.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: file,
    lineOffset: -1,
    cachedData,
  })
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => writeCodeCache(fs, dir, slot, path, script))
  }
  const module = { exports: {} }
  // A slim bundle hands a target it lacks to the full one (src/cli/check-elsewhere.ts).
  const bundleRequire = (id) => require(id === './check.cjs' ? join(dirname(file), 'check.cjs') : id)
  script.runInThisContext()(module.exports, bundleRequire, module, file, dirname(file))
  return module.exports
}

if (process.argv[2] === 'check') {
  runCheckBundle(checkBundle(process.argv.slice(3)))
} else {
  // Node 22.1 and later keep the compiled bundles in an on-disk cache (under the OS temp
  // directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so every run after the first
  // skips most of the parsing. Older lines have no such function, and a cache that cannot
  // be written is reported in the return value, never thrown.
  require('node:module').enableCompileCache?.()
  import('../dist/bin/probekit.js').catch(missingBuild)
}
