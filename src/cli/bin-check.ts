/**
 * `probekit check` on its own: the entry of dist/bin/check.cjs, a self-contained CommonJS
 * bundle. A health check runs every few seconds in every container, so this path skips
 * the ESM loader and the command table: bin/probekit.js loads this file directly. It
 * exits as soon as the verdict is written (see stdout.ts), whatever handles a probe left.
 */
import * as check from './check.js'
import { lastResort, runCommand } from './run-command.js'
import { exitAfterStdout, writeStdout } from './stdout.js'

runCommand('check', () => check, process.argv.slice(3)).then(exitAfterStdout, (error: unknown) => {
  writeStdout(`probekit check: ${lastResort(error)}\n`)
  exitAfterStdout(1)
})
