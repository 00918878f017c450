/**
 * The `probekit` executable (dist/bin/probekit.js): runs the CLI and exits with its status
 * at once, so handles left open by a driver or an app's health module cannot delay the
 * answer. Exit 1 on any failure, never 2 (Docker reserves it).
 */
import { errorStreamOf, main } from './main.js'
import { exitWith, lastResort } from './run-command.js'

let settled = false
// Node exits 0 when nothing is left to run, also while main() still waits: a config module
// whose top-level await (or default export's promise) never settles would make `probe` a
// silent pass and `gen` an empty file. That is a failure, said as one.
process.once('beforeExit', () => {
  if (settled) return
  const command = process.argv[2]
  const out = errorStreamOf(command) === 'stderr' ? process.stderr : process.stdout
  out.write(
    `probekit${command && /^[a-z]+$/.test(command) ? ` ${command}` : ''}: stopped without an answer: something it waited for never settles and nothing else is left to run (a config module whose top-level await, or whose default export's promise, never settles?)\n`,
  )
  exitWith(1)
})

main(process.argv.slice(2)).then(
  (code) => {
    settled = true
    exitWith(code)
  },
  (error: unknown) => {
    settled = true
    // main() reports expected failures itself; this is the last resort.
    process.stdout.write(`probekit: ${lastResort(error)}\n`)
    exitWith(1)
  },
)
