/**
 * Runs the built `probekit` executable (bin/probekit.js → dist/bin) as a user would, and
 * builds the bundle first: esbuild takes well under a second and needs no tsc.
 */
import { execFile, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = `${ROOT}bin/probekit.js`

let built = false

/** Builds dist/bin once per test process. */
export function buildCli(): void {
  if (built) return
  const result = spawnSync(process.execPath, [`${ROOT}scripts/build-cli.mjs`], { cwd: ROOT, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`building the CLI failed:\n${result.stdout}${result.stderr}`)
  built = true
}

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  /** Wall time of the whole process, ms. */
  ms: number
}

/** Runs `probekit …args` and collects its exit status and output. */
export function cli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliRun> {
  const started = performance.now()
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 30_000,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
        resolve({ code: child.exitCode ?? code, stdout, stderr, ms: performance.now() - started })
      },
    )
  })
}
