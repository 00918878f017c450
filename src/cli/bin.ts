/**
 * The `probekit` executable (dist/bin/probekit.js): runs the CLI and exits with its status
 * at once, so handles left open by a driver or an app's health module cannot delay the
 * answer. Exit 1 on any failure, never 2 (Docker reserves it).
 */
import { main } from './main.js'
import { exitWith, lastResort } from './run-command.js'

main(process.argv.slice(2)).then(exitWith, (error: unknown) => {
  // main() reports expected failures itself; this is the last resort.
  process.stdout.write(`probekit: ${lastResort(error)}\n`)
  exitWith(1)
})
