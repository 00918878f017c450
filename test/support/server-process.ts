/**
 * The base of the test harness: real server processes on free loopback ports in temporary
 * directories, which tests can kill, freeze (SIGSTOP), thaw (SIGCONT) and restart.
 * Every process started here is killed when the test process exits, also on failure.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const live = new Set<ManagedProcess>()
const tempDirs = new Set<string>()

process.on('exit', () => {
  for (const p of live) p.killNow()
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {}
  }
})

/** A free TCP port on 127.0.0.1 (the OS picks it; the listener is closed before returning). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The port `refusedPort()` gives: below the ephemeral range, and not on fetch's list of blocked ports. */
const REFUSED_PORT = 2
let refusedChecked: Promise<number> | undefined

/**
 * A TCP port on 127.0.0.1 that nothing listens on, for "connection refused" cases. A
 * `freePort()` number is free only until some other test's server takes it (the OS hands the
 * same ephemeral ports out again), which turned "refused" into a broker's answer under load;
 * port 2 sits below the ephemeral range, so no server of the harness can take it. Checked
 * once per process: if something on this machine does listen there, this fails loudly.
 */
export function refusedPort(): Promise<number> {
  refusedChecked ??= new Promise<number>((resolve, reject) => {
    const socket = new Socket()
    socket.once('connect', () => {
      socket.destroy()
      reject(
        new Error(
          `refusedPort(): something listens on 127.0.0.1:${REFUSED_PORT}; tests need a port nothing listens on`,
        ),
      )
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve(REFUSED_PORT)
      else
        reject(new Error(`refusedPort(): connecting to 127.0.0.1:${REFUSED_PORT} gave ${error.code}, not ECONNREFUSED`))
    })
    socket.connect(REFUSED_PORT, '127.0.0.1')
  })
  return refusedChecked
}

/** A temporary directory removed when the test process exits (or by `removeTempDir`). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `probekit-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir)
  rmSync(dir, { recursive: true, force: true })
}

/**
 * The path of a server binary, or a loud failure: a missing server is never a silent skip.
 * `candidates` are absolute paths tried in order, then `name` on PATH.
 */
export function requireBinary(name: string, candidates: string[] = []): string {
  for (const candidate of candidates) if (existsSync(candidate)) return candidate
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', timeout: 10_000 }).trim()
  } catch {
    throw new Error(
      `The test harness needs the "${name}" binary and it is not installed. Run scripts/setup.sh (it installs every server the tests use from Debian's packages).`,
    )
  }
}

/**
 * The command line that runs `command` so that it gets SIGKILL when the test process ends,
 * however it ends: a file killed by the runner's watchdog (or with SIGKILL by hand) runs no
 * exit handler, and its servers would be left running. Linux's parent-death signal, set by
 * setpriv, which then execs the server (same pid, so freeze and kill reach it). A command
 * that is itself setpriv (a server run as its own user) gets the option added, after its
 * change of user, which would clear it. Elsewhere: the command as it is.
 */
function diesWithParent(command: string, args: string[]): [string, string[]] {
  if (process.platform !== 'linux') return [command, args]
  const setpriv = requireBinary('setpriv')
  if (command === 'setpriv' || command === setpriv) return [setpriv, ['--pdeathsig', 'KILL', ...args]]
  return [setpriv, ['--pdeathsig', 'KILL', '--', command, ...args]]
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms))
}

/** Polls `condition` until it returns true (or a truthy value) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  condition: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await condition()
      if (value) return value as NonNullable<T>
    } catch (error) {
      lastError = error
    }
    await sleep(intervalMs)
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : ''
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
}

/** Resolves true when a TCP connection to host:port succeeds. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, host, () => done(true))
  })
}

export interface ManagedProcessOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Resolves when the server is ready to serve (e.g. a port accepts and answers). */
  ready?: () => Promise<boolean> | boolean
  readyTimeoutMs?: number
}

/** A server process under the test's control. */
export class ManagedProcess {
  child: ChildProcess | undefined
  private output = ''
  private frozen = false

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: string[],
    readonly options: ManagedProcessOptions = {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** The last few KB the process wrote, for error messages. */
  get recentOutput(): string {
    return this.output.slice(-4000)
  }

  async start(): Promise<this> {
    // A child killed by a signal has exitCode null too: only a running child means "started".
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this
    const [command, args] = diesWithParent(this.command, this.args)
    const child = spawn(command, args, {
      env: { ...process.env, ...this.options.env },
      cwd: this.options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    })
    this.child = child
    this.frozen = false
    live.add(this)
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    let spawnError: Error | undefined
    child.once('error', (error) => {
      spawnError = error
    })
    child.once('exit', () => live.delete(this))
    if (this.options.ready) {
      const ready = this.options.ready
      await waitFor(
        `${this.name} to be ready`,
        async () => {
          if (spawnError) throw new Error(`${this.name} could not start: ${spawnError.message}`)
          // Readiness first: a short-lived process may have said it was ready and exited since.
          let isReady = false
          try {
            isReady = Boolean(await ready())
          } catch (error) {
            if (child.exitCode === null && child.signalCode === null) throw error
          }
          if (isReady) return true
          if (child.exitCode !== null || child.signalCode !== null) {
            throw new Error(`${this.name} exited with code ${child.exitCode ?? child.signalCode}: ${this.recentOutput}`)
          }
          return false
        },
        this.options.readyTimeoutMs ?? 60_000,
        100,
      ).catch((error: Error) => {
        this.killNow()
        throw new Error(`${error.message}\n--- ${this.name} output ---\n${this.recentOutput}`)
      })
    }
    return this
  }

  /** SIGSTOP: the process keeps its sockets open but answers nothing. */
  freeze(): void {
    if (!this.child?.pid || this.frozen) return
    process.kill(this.child.pid, 'SIGSTOP')
    this.frozen = true
    waitUntilStopped(this.child.pid)
  }

  /** SIGCONT after `freeze`. */
  thaw(): void {
    if (!this.child?.pid || !this.frozen) return
    process.kill(this.child.pid, 'SIGCONT')
    this.frozen = false
  }

  /** SIGKILL and wait for the exit: the server is down, its port refuses connections. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL')
  }

  /** Stops the process with `signal` (default SIGTERM, escalating to SIGKILL after 10 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    if (this.frozen) this.thaw()
    child.kill(signal)
    const escalate = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(escalate)
    live.delete(this)
  }

  async restart(): Promise<this> {
    await this.stop()
    return this.start()
  }

  /** Synchronous last resort at process exit. */
  killNow(): void {
    const pid = this.child?.pid
    if (!pid || this.child?.exitCode !== null) return
    try {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
}

/**
 * SIGSTOP takes effect asynchronously: a busy multi-threaded server (mariadbd) can still
 * answer a request sent right after kill() returns. Wait (briefly, synchronously) until
 * every thread of `pid` reports state T in /proc, so "frozen" means frozen.
 */
export function waitUntilStopped(pid: number, limitMs = 500): void {
  const tasks = `/proc/${pid}/task`
  if (!existsSync(tasks)) return
  const pause = new Int32Array(new SharedArrayBuffer(4))
  const deadline = Date.now() + limitMs
  while (Date.now() < deadline) {
    let allStopped = true
    try {
      for (const task of readdirSync(tasks)) {
        const stat = readFileSync(`${tasks}/${task}/stat`, 'utf8')
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
        if (state !== 'T' && state !== 't') {
          allStopped = false
          break
        }
      }
    } catch {
      return
    }
    if (allStopped) return
    Atomics.wait(pause, 0, 0, 1)
  }
}
