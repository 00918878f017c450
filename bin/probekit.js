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
  grpc: 'grpc',
  grpcs: 'grpc',
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
 * V8's bytecode for the slim check bundles, kept from one run for the next. A check runs
 * every few seconds, and compiling the functions of its bundle anew each time was the
 * largest part of what probekit adds to the start of a Node process (docs/cli.md, "Start-up
 * cost", says what each rule below is for).
 *
 * - Where: `$TMPDIR/probekit-code-cache-UID`, a directory this user owns and no one else may
 *   enter; anything else at that path is left alone and the check runs without a cache.
 *   `NODE_DISABLE_COMPILE_CACHE` (set to anything) turns it off, as it does Node's cache.
 * - Entries: per bundle, Node version, architecture, install (the bundle's path) and flags
 *   (`execArgv`, `NODE_OPTIONS`), a "slot"; in it, one entry stamped with the bundle's
 *   content hash (its first line), modification time and length. At most
 *   `MAX_CACHE_ENTRIES` entries are kept, the least recently written removed first.
 * - Integrity: V8 checks a cache's version, flags and source length, not its bytes. Each
 *   entry is written twice and used only when both copies are regular files of this user's,
 *   byte for byte alike. A run marks the slot before V8 reads an entry, until it exits; a
 *   mark left by a run that died (a crash, a hang killed) makes the next run discard the
 *   entry, so an entry damaged in both copies alike that crashes costs one run, not every
 *   run after.
 * - Refresh: an entry written by a failing run (a check at start-up, when the service is not
 *   up yet, compiles less) is written again by the first passing run; any entry older than
 *   `MAX_ENTRY_AGE_MS` is compiled afresh; a run that used an entry and failed discards it,
 *   so that the next run compiles from source (while a target is down, every other check).
 */
const STAMP_PREFIX = '// probekit '
const MAX_CACHE_BYTES = 8 * 1024 * 1024
/** Entries kept in the directory, each two copies of 70–110 KB. */
const MAX_CACHE_ENTRIES = 16
/**
 * An entry older than this is compiled afresh and written again: what no check can detect
 * (an entry damaged alike in both copies that does not crash the process) lasts this long
 * at most, for one compilation per slot every ten minutes.
 */
const MAX_ENTRY_AGE_MS = 10 * 60_000
/** A run's mark this old is stale whatever its process: no check runs this long. */
const STALE_MARK_MS = 10 * 60_000
/** Entry names: written by a passing run, and by a run that exited with another status. */
const PASSED = ''
const FAILED = '-f'

function codeCacheDir() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE !== undefined || typeof process.getuid !== 'function') return undefined
  // os.tmpdir() without loading node:os.
  const tmp = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp'
  return `${tmp.length > 1 && tmp.endsWith('/') ? tmp.slice(0, -1) : tmp}/probekit-code-cache-${process.getuid()}`
}

/** FNV-1a, 32 bits, as 8 hex digits: the install and flags a slot is for. */
function shortHash(text) {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(16).padStart(8, '0')
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

/**
 * A regular file of this user's of a sane size and younger than `MAX_ENTRY_AGE_MS`, read
 * without following a link or waiting on a FIFO. (The functions here are those the run has
 * called already — lstat, readFile —: the first call of any other costs ~0.1–0.3 ms.)
 */
function readCopy(fs, file) {
  try {
    const stat = fs.lstatSync(file, { throwIfNoEntry: false })
    if (!stat?.isFile() || stat.uid !== process.getuid() || stat.size === 0 || stat.size > MAX_CACHE_BYTES) {
      return undefined
    }
    if (Math.abs(Date.now() - stat.mtimeMs) > MAX_ENTRY_AGE_MS) return undefined
    const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants
    const data = fs.readFileSync(file, { flag: O_RDONLY | O_NOFOLLOW | O_NONBLOCK })
    return data.length === stat.size ? data : undefined
  } catch {
    return undefined
  }
}

/** Both copies of an entry, when both are there and alike. */
function readEntry(fs, path) {
  const a = readCopy(fs, `${path}.a`)
  if (a === undefined) return undefined
  const b = readCopy(fs, `${path}.b`)
  return b !== undefined && a.equals(b) ? a : undefined
}

/**
 * Whether the run that marked the slot (`mark`, a symbolic link to its process id) is gone:
 * its process has exited (a zombie not yet reaped counts), the id is now another process's
 * (started after the mark was made, or another user's: only this user's checks mark this
 * directory), the id is this run's own, the mark is not a link to an id, or it is older
 * than any check. Read only when a mark is there, so its cost is off the usual path.
 */
function markDied(fs, mark, stat) {
  try {
    if (!stat.isSymbolicLink()) return true
    const target = fs.readlinkSync(mark)
    if (!/^[1-9][0-9]{0,9}$/.test(target)) return true
    const pid = Number(target)
    if (pid === process.pid || Math.abs(Date.now() - stat.mtimeMs) > STALE_MARK_MS) return true
    process.kill(pid, 0)
    return processStartedAfter(fs, pid, stat.mtimeMs)
  } catch {
    // ESRCH: no such process; EPERM: another user's.
    return true
  }
}

/**
 * On Linux, whether process `pid` is a zombie or started after `ms` (epoch): then it is not
 * the run that made a mark at `ms`. Elsewhere (no /proc), false.
 */
function processStartedAfter(fs, pid, ms) {
  let stat
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch (error) {
    return error.code === 'ENOENT' && fs.existsSync('/proc/self/stat')
  }
  // `pid (comm) state … starttime` — comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (fields[0] === 'Z' || fields[0] === 'X') return true
  const boot = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'latin1'))
  // starttime is in clock ticks since boot: USER_HZ, 100 on Linux.
  const started = boot ? Number(boot[1]) * 1000 + Number(fields[19]) * 10 : Number.NaN
  return started > ms + 1500
}

/** Removes the entry at `path` (either kind); what is not there is not there. */
function removeEntry(fs, path) {
  for (const kind of [PASSED, FAILED]) {
    for (const copy of ['a', 'b']) {
      try {
        fs.unlinkSync(`${path}${kind}.${copy}`)
      } catch {}
    }
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
    // A directory that cannot be written (a read-only mount) costs no serialising.
    fs.accessSync(dir, fs.constants.W_OK)
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
    const name = path.slice(dir.length + 1)
    // Other entries of this slot (older builds, a failing run's) and temporary files that
    // runs killed while writing left; the slot's mark stays.
    const keep = [`${name}.a`, `${name}.b`, `${slot}.run`]
    for (const file of fs.readdirSync(dir)) {
      if (file.startsWith(`${slot}.`) && !keep.includes(file)) fs.rmSync(`${dir}/${file}`, { force: true })
    }
    // Other installs and flags: the least recently written entries beyond the bound.
    const entries = fs
      .readdirSync(dir)
      .filter((file) => file.endsWith('.a'))
      .map((file) => ({ file, at: fs.lstatSync(`${dir}/${file}`).mtimeMs }))
      .sort((x, y) => y.at - x.at)
    for (const { file } of entries.slice(MAX_CACHE_ENTRIES)) {
      fs.rmSync(`${dir}/${file}`, { force: true })
      fs.rmSync(`${dir}/${file.slice(0, -2)}.b`, { force: true })
    }
  } catch {
    // A cache that cannot be written costs the next run its compilation, nothing else.
  }
}

/** Runs dist/bin/NAME.cjs as require() would, with its bytecode from an earlier run when there is one. */
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
  // (esbuild writes every dynamic import as `import(`.)
  if (dir === undefined || stamp === undefined || source.includes('import(')) return require(file)
  const flags = `${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}`
  const slot = `${name}-${process.version}-${process.arch}-${shortHash(`${file}\0${flags}`)}`
  const path = `${dir}/${slot}.${stamp}-${Math.trunc(fs.lstatSync(file).mtimeMs)}-${source.length}`
  const mark = `${dir}/${slot}.run`
  let cachedData
  let used
  let marked = false
  if (ownPrivateDir(fs, dir)) {
    try {
      // A run of this slot going on (its mark), or one that died using the entry: then the
      // entry goes, and this run compiles from source.
      const other = fs.lstatSync(mark, { throwIfNoEntry: false })
      if (other !== undefined && markDied(fs, mark, other)) {
        removeEntry(fs, path)
        fs.rmSync(mark, { recursive: true, force: true })
      } else {
        // Marked before V8 reads an entry: if that kills the process, the mark stays. A run
        // that finds another's mark goes without (a run that dies unmarked is caught by the
        // next one that marks), and a directory where no mark can be made (read-only) is
        // not read.
        if (other === undefined) {
          fs.symlinkSync(String(process.pid), mark)
          marked = true
        }
        for (const kind of [PASSED, FAILED]) {
          cachedData = readEntry(fs, `${path}${kind}`)
          if (cachedData !== undefined) {
            used = kind
            break
          }
        }
      }
    } catch {
      cachedData = undefined
    }
  }
  const { Script } = require('node:vm')
  // The wrapper require() puts around a CommonJS module, on a line of its own so that the
  // bundle's lines and columns in a stack trace are the file's.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: file,
    lineOffset: -1,
    cachedData,
  })
  process.once('exit', (code) => {
    if (marked) {
      try {
        fs.unlinkSync(mark)
      } catch {}
    }
    const kind = code === 0 ? PASSED : FAILED
    if (cachedData !== undefined && !script.cachedDataRejected && kind === FAILED) {
      // A check that failed with bytecode from the cache may have failed because of it (a
      // damaged entry throws as well as it crashes): the next run compiles from source.
      removeEntry(fs, path)
    } else if (cachedData === undefined || script.cachedDataRejected || (used === FAILED && kind === PASSED)) {
      writeCodeCache(fs, dir, slot, `${path}${kind}`, script)
    }
  })
  const module = { exports: {} }
  // A slim bundle hands a target it lacks to the full one (src/cli/check-elsewhere.ts).
  const bundleRequire = (id) => require(id === './check.cjs' ? join(dirname(file), 'check.cjs') : id)
  script.runInThisContext()(module.exports, bundleRequire, module, file, dirname(file))
  return module.exports
}

/**
 * A `postgres://` target read here exactly as the postgres probe reads it
 * (src/probes/postgres-wire.ts, `pgTarget`): user and database in plain characters, a
 * lower-case host name or IP address, a port or none, no query. Anything else is left to
 * the check alone.
 */
const PLAIN_POSTGRES =
  /^[Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss](?:[Qq][Ll])?:\/\/([A-Za-z0-9_.-]+)(?::[^@/?#\s]*)?@([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?\/([A-Za-z0-9_.-]+)$/

/**
 * Opens the connection of each plain `postgres://` target and sends PostgreSQL's startup
 * message before the check bundle loads, so that the server forks and sets up its backend
 * (~15 ms here, as long as loading the bundle) meanwhile, not after. The bundle's
 * socket.ts (`AheadConnection` says the contract) takes the connection over when its
 * address and startup message are the ones written here, and opens its own otherwise; a
 * connection that failed is dropped and the check connects afresh, reporting what it
 * meets. The socket keeps no process alive, and nothing is opened for --help or
 * --version, or when PGSSLMODE asks for SSL. Returns whether it opened a connection.
 */
function connectAhead(args) {
  if (args.some((arg) => arg === '-h' || arg === '--help' || arg === '-V' || arg === '--version')) return false
  const mode = process.env.PGSSLMODE
  if (mode !== undefined && mode !== '' && mode !== 'disable') return false
  let ahead
  let opened = false
  for (const arg of args) {
    // Other targets and flags never reach the expression (its first use compiles it).
    if (arg[0] !== 'p' && arg[0] !== 'P') continue
    const match = PLAIN_POSTGRES.exec(arg)
    if (match === null) continue
    const [, user, bracketed, portText, database] = match
    const port = portText === undefined ? 5432 : Number(portText)
    if (port < 1 || port > 65535) continue
    const host = bracketed.startsWith('[') ? bracketed.slice(1, -1) : bracketed
    // StartupMessage: length, protocol 3.0, then name and value pairs, each NUL-ended.
    const pairs = `user\0${user}\0database\0${database}\0application_name\0probekit\0\0`
    const greeting = Buffer.alloc(8 + pairs.length)
    greeting.writeInt32BE(greeting.length, 0)
    greeting.writeInt32BE(0x30000, 4)
    greeting.write(pairs, 8, 'latin1')
    ahead ??= globalThis[Symbol.for('probekit.connectAhead')] ??= new Map()
    const key = `${host}:${port}\0${greeting.toString('latin1')}`
    if (ahead.has(key)) continue
    const socket = new (require('node:net').Socket)()
    const broken = () => {
      connection.broken = true
    }
    const forget = () => {
      socket.removeListener('error', broken)
      socket.removeListener('close', broken)
    }
    const connection = { socket, open: false, broken: false, forget }
    socket.on('error', broken)
    socket.on('close', broken)
    socket.once('connect', () => {
      connection.open = true
      socket.write(greeting)
    })
    socket.connect({ host, port })
    socket.unref()
    ahead.set(key, connection)
    opened = true
  }
  return opened
}

if (process.argv[2] === 'check') {
  const args = process.argv.slice(3)
  // With a connection opened ahead, the bundle loads in the next turn of the event loop:
  // one that connected at once (the loopback, a LAN) sends its startup message first.
  if (connectAhead(args)) setImmediate(runCheckBundle, checkBundle(args))
  else runCheckBundle(checkBundle(args))
} else {
  // Node 22.1 and later keep the compiled bundles in an on-disk cache (under the OS temp
  // directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so every run after the first
  // skips most of the parsing. Older lines have no such function, and a cache that cannot
  // be written is reported in the return value, never thrown.
  require('node:module').enableCompileCache?.()
  import('../dist/bin/probekit.js').catch(missingBuild)
}
