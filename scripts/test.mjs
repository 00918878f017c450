#!/usr/bin/env node
// Runs the test files (all, or those whose path contains one of the arguments) with
// node's built-in test runner, TypeScript loaded through tsx.
//
// No file can hang the run: each test and hook has a timeout, a file's process ends 10 s
// after its tests are over if something it started still holds the event loop, naming what
// (test/support/exit-guard.mjs; node's --test-force-exit could drop a file's last results),
// and a watchdog ends a file that runs longer than
// PROBEKIT_TEST_FILE_LIMIT seconds (default 600) together with every process it started
// (servers it froze included), naming the file and those processes, so the runner reports
// it as failed and goes on.
//
// The run has a temp directory of its own (TMPDIR for every file and what it starts),
// removed when the run ends: servers' data directories, `probekit check`'s code cache and
// Node's compile cache of the commands the tests run go there, not to the machine's /tmp.
//
// Nothing a file starts outlives it: every process it starts carries its mark
// (PROBEKIT_TEST_FILE, from exit-guard.mjs), and one left running once its file's process
// is gone (killed, so its exit handlers never ran; or a command a test forgot) is ended and
// named, as is anything of the run's still running when the run ends. A leak fails the run.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
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
  '--import',
  new URL('../test/support/exit-guard.mjs', import.meta.url).href,
  ...passthrough,
  ...files,
]
const runTmp = mkdtempSync(join(tmpdir(), 'probekit-test-run-'))
// Servers the harness runs as their own users (postgres, mysql, nats) reach their
// directories inside it.
chmodSync(runTmp, 0o755)
process.on('exit', () => rmSync(runTmp, { recursive: true, force: true }))
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  // PROBEKIT_TEST_RUN marks what this run starts, apart from another run's on the machine.
  env: { ...process.env, PROBEKIT_TEST: '1', TMPDIR: runTmp, PROBEKIT_TEST_RUN: runTmp },
})
// Ended from outside (Ctrl-C, a CI's SIGTERM): the tests and every process they started
// (servers included, frozen ones too) end at once, as the watchdog ends one file, and the
// run's temp directory goes with the runner's exit.
for (const [signal, status] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
]) {
  process.on(signal, () => {
    try {
      endTree(processTable(), child.pid)
    } catch {
      child.kill('SIGKILL') // not Linux: the tests at least
    }
    endLeftovers(true, true, false)
    process.exit(status)
  })
}
const fileLimitSeconds = Number(process.env.PROBEKIT_TEST_FILE_LIMIT ?? 600)
if (!(fileLimitSeconds > 0)) {
  console.error(
    `PROBEKIT_TEST_FILE_LIMIT must be a positive number of seconds, not "${process.env.PROBEKIT_TEST_FILE_LIMIT}"`,
  )
  process.exit(2)
}
const watchdog = setInterval(() => {
  endOverdueFiles(child.pid)
  endLeftovers(false)
}, 5000)
watchdog.unref()
child.on('exit', async (code, signal) => {
  clearInterval(watchdog)
  // What the files started and did not stop: a server of a file that was killed (its exit
  // handlers never ran), a command a test spawned and forgot. Given a moment to go by
  // itself (a killed server's own children notice), then ended and named: a leak fails the run.
  let left = 0
  for (let i = 0; i < 6 && (left = endLeftovers(true, i === 5)) > 0; i++) await sleep(500)
  process.exit(left > 0 || leaks > 0 ? 1 : (code ?? (signal ? 1 : 0)))
})

/** pid → { ppid, args } of every process, read from /proc (Linux). */
function processTable() {
  const table = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean)
      // Field 22 of stat (20 after the name and state) is the start time in clock ticks.
      table.set(Number(entry), { ppid: Number(fields[1]), startTicks: Number(fields[19]), args })
    } catch {}
  }
  return table
}

function descendants(table, pid) {
  const out = []
  for (const [child, info] of table) if (info.ppid === pid) out.push(child, ...descendants(table, child))
  return out
}

const firstSeen = new Map()

function endOverdueFiles(runnerPid) {
  if (!runnerPid) return
  let table
  try {
    table = processTable()
  } catch {
    return // not Linux: the per-test timeouts and the exit guard still apply
  }
  const now = Date.now()
  for (const [pid, info] of table) {
    if (info.ppid !== runnerPid) continue
    const file = info.args.find((a) => a.endsWith('.test.ts'))
    if (!file) continue
    const key = `${pid}:${info.startTicks}`
    if (!firstSeen.has(key)) firstSeen.set(key, now)
    if (now - firstSeen.get(key) < fileLimitSeconds * 1000) continue
    firstSeen.set(key, Number.POSITIVE_INFINITY) // once
    const started = descendants(table, pid)
    const names = started.map((p) => `${p} ${(table.get(p)?.args ?? []).join(' ').slice(0, 160)}`)
    console.error(
      `\n[test.mjs] ${relative(root, file)} has run for more than ${fileLimitSeconds} s: ending it` +
        (names.length ? ` and what it started:\n  ${names.join('\n  ')}` : '') +
        `\n[test.mjs] (the limit is PROBEKIT_TEST_FILE_LIMIT seconds)\n`,
    )
    endTree(table, pid, started)
  }
}

let leaks = 0
const suspects = new Map()

/**
 * Finds processes a test file of this run left running: this run's by the mark every
 * process it starts inherits (PROBEKIT_TEST_RUN, or TMPDIR: the run's temp directory, or an
 * argument inside it), the file's by PROBEKIT_TEST_FILE (set by exit-guard.mjs). During the run: one whose file's process is gone, seen on two ticks
 * in a row (a file's exit handlers kill its servers; they go within a tick). At the end
 * (`final`): every one. Ends them when `end` (or, during the run, at once), naming them and
 * their file. Returns how many are left. Not Linux: nothing to read, 0.
 */
function endLeftovers(final, end = !final, say = true) {
  let table
  try {
    table = processTable()
  } catch {
    return 0
  }
  const found = []
  for (const [pid, info] of table) {
    if (pid === process.pid) continue
    const env = environOf(pid)
    // Only this run's: another run on the machine (a second checkout's) has its own.
    const inRun =
      env.get('PROBEKIT_TEST_RUN') === runTmp ||
      env.get('TMPDIR') === runTmp ||
      info.args.some((a) => a.includes(runTmp))
    if (!inRun) continue
    const mark = env.get('PROBEKIT_TEST_FILE')
    // epmd is shared by every Erlang node on the machine by design (rabbitmq.ts).
    if (info.args[0]?.endsWith('epmd')) continue
    const [filePid, ...file] = (mark ?? '').split(' ')
    if (!final) {
      if (!mark) continue
      const owner = table.get(Number(filePid))
      if (owner?.args.some((a) => a.endsWith('.test.ts'))) continue
      const key = `${pid}:${info.startTicks}`
      const seen = (suspects.get(key) ?? 0) + 1
      suspects.set(key, seen)
      if (seen < 2) continue
    }
    found.push({ pid, file: file.join(' ') || '?', args: info.args.join(' ').slice(0, 160) })
  }
  if (end && found.length > 0) {
    if (say) leaks += found.length
    if (say)
      console.error(
        `\n[test.mjs] left running by the tests (ended now; this fails the run):\n${found
          .map((p) => `  ${p.pid} (${p.file}) ${p.args}`)
          .join('\n')}\n`,
      )
    for (const { pid } of found) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {}
    }
  }
  return end ? 0 : found.length
}

/** A process's environment as it started, empty when it cannot be read (another user's, gone). */
function environOf(pid) {
  const env = new Map()
  try {
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=')
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1))
    }
  } catch {}
  return env
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Ends `pid` and every process it started (deepest first) with SIGKILL. */
function endTree(table, pid, started = descendants(table, pid)) {
  for (const p of [...started].reverse().concat(pid)) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
}
