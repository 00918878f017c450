/**
 * Runs doc blocks as a reader would: TypeScript and JavaScript examples as programs in a
 * temporary project whose node_modules/probekit is this repository (built: run
 * `npm run build` first), shell sessions (`console`) with `probekit` on PATH, their output
 * compared with the block's.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canConnect, makeTempDir, waitFor } from '../support/server-process.js'
import { type DocBlock, ROOT, where } from './blocks.js'

let project: string | undefined

/** A temp project: node_modules links to this repository's (probekit itself included). */
export function docProject(): string {
  if (project) return project
  const dir = makeTempDir('doctest')
  const modules = join(dir, 'node_modules')
  mkdirSync(modules)
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry.startsWith('.')) continue
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry))
  }
  symlinkSync(ROOT.replace(/\/$/, ''), join(modules, 'probekit'))
  writeFileSync(join(dir, 'package.json'), '{ "name": "doc-example", "private": true, "type": "module" }\n')
  // NestJS examples use decorators (legacy ones, which tsx compiles when the tsconfig asks).
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', experimentalDecorators: true } }),
  )
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'probekit'), `#!/bin/sh\nexec "${process.execPath}" "${ROOT}bin/probekit.js" "$@"\n`)
  chmodSync(join(bin, 'probekit'), 0o755)
  project = dir
  return dir
}

/**
 * Type-checks the `*.ts` files of `dir` (a folder of `docProject()`) with tsc: strict, no
 * output, Node's types, and `compilerOptions` on top (module, resolution, skipLibCheck…).
 * Returns tsc's exit status and what it printed.
 */
export function typecheckDir(
  dir: string,
  compilerOptions: Record<string, unknown>,
): { status: number | null; output: string } {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        strict: true,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        ...compilerOptions,
      },
      include: ['*.ts'],
    }),
  )
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { status: tsc.status, output: `${tsc.stdout}${tsc.stderr}` }
}

/** The fixed ports an example listens on (`port: 9000`, `.listen(3000)`). */
export function listenPorts(code: string): number[] {
  const found = new Set<number>()
  for (const m of code.matchAll(/\b(?:port:\s*|listen\()(\d{2,5})\b/g)) found.add(Number(m[1]))
  return [...found]
}

export interface RunningExample {
  child: ChildProcess
  output: () => string
  stderr: () => string
  exited: Promise<number | null>
  stop(): Promise<number | null>
}

let counter = 0

/** Starts a ts/js block as a module (`ports` maps the ports it names to real ones). */
export function startExample(
  block: DocBlock,
  options: { env?: NodeJS.ProcessEnv; ports?: Record<number, number>; code?: string; cwd?: string } = {},
): RunningExample {
  const dir = docProject()
  const ext = block.lang === 'ts' || block.lang === 'tsx' ? 'ts' : 'mjs'
  const file = join(dir, `example-${++counter}-${block.file.replace(/\W+/g, '_')}-${block.line}.${ext}`)
  writeFileSync(file, options.code ?? block.code)
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--import', join(ROOT, 'test/docs/listen-ports.mjs'), file],
    {
      cwd: options.cwd ?? dir,
      env: {
        ...process.env,
        PROBEKIT_TEST: undefined,
        PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
        DOCTEST_PORTS: JSON.stringify(options.ports ?? {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString()
    out += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return {
    child,
    output: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      return child.exitCode
    },
  }
}

/** Waits until every port accepts connections; fails at once if the example exits first. */
export async function waitListening(example: RunningExample, ports: number[], block: DocBlock): Promise<void> {
  const state = await waitFor(
    `${where(block)} to listen on ${ports.join(', ')}`,
    async () => {
      if (example.child.exitCode !== null || example.child.signalCode !== null) return 'exited'
      for (const port of ports) if (!(await canConnect(port))) return false
      return 'listening'
    },
    30_000,
    100,
  )
  if (state === 'exited') throw new Error(`${where(block)} exited with ${example.child.exitCode}:\n${example.output()}`)
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: await res.text() }
}

/** One `$ command` of a console block and the output the block shows for it. */
export interface ConsoleStep {
  command: string
  expected: string[]
}

export function consoleSteps(code: string): ConsoleStep[] {
  const steps: ConsoleStep[] = []
  for (const line of code.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] })
    else if (steps.length > 0) steps.at(-1)?.expected.push(line)
  }
  for (const step of steps) while (step.expected.at(-1) === '') step.expected.pop()
  return steps
}

/** Durations and timestamps: what differs from run to run, written the same way on both sides. */
export function normalize(line: string): string {
  // Between two connection attempts ioredis says "reconnecting", during one "connecting":
  // which one a check meets is timing (it failed CI once on Node 26).
  return line
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/\bin \d+(\.\d+)? ms\b/g, 'in <n> ms')
    .replace(/ioredis status "(?:re)?connecting"/g, 'ioredis status "connecting"')
    .trimEnd()
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * One expected line against one actual line: `…` is any text, and a measured number of
 * milliseconds in JSON (`"durationMs": 3.1`) is any number with at most as many decimals.
 */
function lineMatches(expected: string, actual: string): boolean {
  const measured = /("(?:durationMs|observedValue)": )\d+(?:\.(\d+))?/g
  if (!expected.includes('…') && !/"(durationMs|observedValue)": \d/.test(expected)) return expected === actual
  let pattern = ''
  let last = 0
  for (const m of expected.matchAll(measured)) {
    pattern += escapeRegExp(expected.slice(last, m.index)).replaceAll('…', '.*')
    pattern += `${escapeRegExp(m[1] as string)}\\d+${m[2] ? `(\\.\\d{1,${m[2].length}})?` : ''}`
    last = (m.index ?? 0) + m[0].length
  }
  pattern += escapeRegExp(expected.slice(last)).replaceAll('…', '.*')
  return new RegExp(`^${pattern}$`).test(actual)
}

/**
 * Compares actual output with a block's: equal after `normalize`, where a line that is only
 * `…` stands for any number of lines, and `…` inside a line for any text.
 */
export function matchOutput(expected: string[], actual: string[]): string | undefined {
  const exp = expected.map(normalize)
  const act = actual.map(normalize)
  const match = (i: number, j: number): boolean => {
    if (i === exp.length) return j === act.length
    const e = exp[i] as string
    if (e.trim() === '…') {
      for (let k = j; k <= act.length; k++) if (match(i + 1, k)) return true
      return false
    }
    if (j === act.length) return false
    return lineMatches(e, act[j] as string) && match(i + 1, j + 1)
  }
  if (match(0, 0)) return undefined
  return `expected (normalized):\n${exp.join('\n')}\n--- actual (normalized):\n${act.join('\n')}`
}

export interface ConsoleOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Replaces text in commands (e.g. a doc's 127.0.0.1:6379 with a test server's address). */
  rewrite?: (command: string) => string
  /** Replaces text in the actual output before comparison (the reverse of `rewrite`). */
  unrewrite?: (output: string) => string
}

/**
 * Runs a console block's commands in one bash session (so `echo $?` sees the command
 * before it) and returns, per step, the output lines; asserts nothing itself.
 */
export async function runConsole(block: DocBlock, options: ConsoleOptions = {}): Promise<string[][]> {
  const dir = options.cwd ?? docProject()
  const steps = consoleSteps(block.code)
  const script = steps
    .map((s) => `${options.rewrite ? options.rewrite(s.command) : s.command}\n__rc=$?\nprintf '\\036\\n'\n(exit $__rc)`)
    .join('\n')
  const child = spawn('bash', ['-c', script], {
    cwd: dir,
    env: {
      ...process.env,
      PROBEKIT_TEST: undefined,
      PATH: `${join(docProject(), 'bin')}:${process.env.PATH}`,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  await new Promise((resolve) => child.once('exit', resolve))
  const text = options.unrewrite ? options.unrewrite(out) : out
  return text
    .split('\x1e\n')
    .slice(0, steps.length)
    .map((chunk) =>
      chunk
        .replace(/\n$/, '')
        .split('\n')
        .filter((l, _i, all) => !(l === '' && all.length === 1)),
    )
}

/** Runs a console block and checks every step's output against the block's. */
export async function checkConsole(block: DocBlock, options: ConsoleOptions = {}): Promise<void> {
  const steps = consoleSteps(block.code)
  if (steps.length === 0) throw new Error(`${where(block)}: a console block with no "$ command" line`)
  const outputs = await runConsole(block, options)
  steps.forEach((step, i) => {
    const problem = matchOutput(step.expected, outputs[i] ?? [])
    if (problem) throw new Error(`${where(block)}: "$ ${step.command}" printed other output\n${problem}`)
  })
}
