/**
 * `probekit check` on its own: the entry of dist/bin/check.cjs, a self-contained CommonJS
 * bundle. A health check runs every few seconds in every container, so this path skips
 * the ESM loader and the command table: bin/probekit.js requires this file directly.
 */
import * as check from './check.js'
import { exitWith, lastResort, runCommand } from './run-command.js'

runCommand('check', () => check, process.argv.slice(3)).then(exitWith, (error: unknown) => {
  process.stdout.write(`probekit check: ${lastResort(error)}\n`)
  exitWith(1)
})
