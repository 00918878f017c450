/**
 * Processes for the benchmarks: servers pinned to one core, load generators to the other,
 * free ports, temporary directories, and what /proc says about a process (CPU, peak memory).
 * Everything started here is killed when the bench exits, also on failure or Ctrl-C.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const children = new Set()
const tempDirs = new Set()

function cleanUp() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGCONT')
      process.kill(child.pid, 'SIGKILL')
    } catch {}
  }
  children.clear()
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}
process.on('exit', cleanUp)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp()
    process.exit(130)
  })
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export async function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `pkbench-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

export async function waitFor(what, condition, timeoutMs = 30_000, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs
  let lastError
  while (Date.now() < deadline) {
    try {
      const value = await condition()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`)
}

export function canConnect(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, host, () => done(true))
  })
}

/** The path of a binary, or undefined. `candidates` are absolute paths tried first. */
export function findBinary(name, candidates = []) {
  for (const candidate of candidates) if (existsSync(candidate)) return candidate
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/** Like findBinary, but a missing binary is an error that says how to install it. */
export function requireBinary(name, candidates = [], debianPackage = name) {
  const found = findBinary(name, candidates)
  if (!found) {
    throw new Error(`the benchmark needs "${name}"; install it with scripts/setup.sh (Debian package ${debianPackage})`)
  }
  return found
}

const taskset = findBinary('taskset')

/** Command and arguments, prefixed with `taskset -c <cpu>` when a cpu is given and taskset exists. */
export function pinned(cpu, command, args) {
  if (cpu === undefined || !taskset) return [command, args]
  return [taskset, ['-c', String(cpu), command, ...args]]
}

/**
 * Starts a long-running process. With `readyJson`, waits for the first stdout line that is
 * JSON and resolves with it as `info` (bench servers print `{"port":…}` when listening).
 */
export async function startProcess(name, command, args, options = {}) {
  const [cmd, argv] = pinned(options.cpu, command, args)
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let output = ''
  let info
  let resolveInfo
  const infoReady = new Promise((resolve) => {
    resolveInfo = resolve
  })
  let lineBuffer = ''
  child.stdout.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000)
    if (info !== undefined) return
    lineBuffer += chunk
    let newline = lineBuffer.indexOf('\n')
    while (newline >= 0 && info === undefined) {
      const line = lineBuffer.slice(0, newline).trim()
      lineBuffer = lineBuffer.slice(newline + 1)
      if (line.startsWith('{')) {
        try {
          info = JSON.parse(line)
          resolveInfo(info)
        } catch {}
      }
      newline = lineBuffer.indexOf('\n')
    }
  })
  child.stderr.on('data', (chunk) => {
    output = (output + chunk).slice(-20_000)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  exited.then(() => children.delete(child))
  const handle = {
    name,
    child,
    get pid() {
      return child.pid
    },
    get output() {
      return output.slice(-4000)
    },
    info: undefined,
    exited,
    freeze: () => process.kill(child.pid, 'SIGSTOP'),
    thaw: () => process.kill(child.pid, 'SIGCONT'),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      try {
        process.kill(child.pid, 'SIGCONT')
      } catch {}
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
  if (options.readyJson) {
    const timeoutMs = options.readyTimeoutMs ?? 30_000
    let timer
    const outcome = await Promise.race([
      infoReady.then((value) => ({ value })),
      exited.then(({ code, signal }) => ({ error: `${name} exited (${signal ?? code}) before it was ready` })),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve({ error: `${name} was not ready within ${timeoutMs} ms` }), timeoutMs)
      }),
    ])
    clearTimeout(timer)
    if (outcome.error) {
      await handle.stop('SIGKILL')
      throw new Error(`${outcome.error}\n--- ${name} output ---\n${output.slice(-3000)}`)
    }
    handle.info = outcome.value
  }
  if (options.ready) {
    await waitFor(`${name} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${output.slice(-2000)}`)
      return options.ready()
    }).catch(async (error) => {
      await handle.stop('SIGKILL')
      throw error
    })
  }
  return handle
}

/** Runs a command to completion and returns `{ code, stdout, stderr }`. */
export function runCommand(command, args, options = {}) {
  const [cmd, argv] = pinned(options.cpu, command, args)
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: options.cwd,
      // `fullEnv` replaces the environment; `env` adds to this process's.
      env: options.fullEnv ?? { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined
    child.once('error', (error) => {
      children.delete(child)
      clearTimeout(timer)
      reject(error)
    })
    // 'close', not 'exit': only then has all of stdout been read.
    child.once('close', (code, signal) => {
      children.delete(child)
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuTimeMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which may contain spaces, start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1000) / clockTicks()
}

let ticksPerSecond
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** Peak resident memory (VmHWM) and current (VmRSS) of a process, in KiB. */
export function memoryKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { peakKb: field('VmHWM'), rssKb: field('VmRSS') }
}

/** The 1, 5 and 15 minute load averages: how busy the machine was during a run. */
export function loadAverage() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)
  } catch {
    return []
  }
}
