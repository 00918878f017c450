import { lineSafe, terminalSafe } from '../core/inert.js'
import { redact, renderValue } from '../core/redact.js'
import { writeStdout } from './stdout.js'
import { UsageError } from './usage-error.js'
import { VERSION } from './version.js'

/** A command module: `run` returns the exit status (0 healthy, 1 anything else; never 2). */
export interface Command {
  run(argv: string[]): Promise<number>
}

/**
 * Where a command's errors go. `stdout` for the health checks (check, probe, worker): Docker
 * and the kubelet keep what a check prints there, so the reason must be on it. `stderr` for
 * a command whose stdout is data to redirect (`probekit gen k8s > probes.yaml`), so an
 * error never lands in the file.
 */
export type ErrorStream = 'stdout' | 'stderr'

/**
 * Runs one command the way every command runs: `--version` answered the same everywhere,
 * a usage error printed as `usage error: …` with a pointer to the command's help, any other
 * expected failure as one redacted sentence, and exit status 1 for all of them (never 2).
 * Both kinds quote what the user typed (a target URL) or what a module threw: redacted,
 * and made terminal-safe, like every line the CLI prints.
 */
export async function runCommand(
  name: string,
  load: () => Promise<Command> | Command,
  argv: string[],
  errors: ErrorStream = 'stdout',
): Promise<number> {
  const writeError = errors === 'stderr' ? (text: string) => process.stderr.write(text) : writeStdout
  if (argv.includes('-V') || argv.includes('--version')) {
    writeStdout(`${VERSION}\n`)
    return 0
  }
  try {
    const command = await load()
    return await command.run(argv)
  } catch (error) {
    if (error instanceof UsageError) {
      writeError(
        `probekit ${name}: usage error: ${terminalSafe(redact(error.message))}\nSee "probekit ${name} --help".\n`,
      )
      return 1
    }
    // Expected failures (a config module that throws, a timeout too short) arrive here as
    // one sentence; whatever they quote may hold a connection string, so redact it.
    const message = error instanceof Error ? error.message : renderValue(error)
    writeError(`probekit ${name}: ${terminalSafe(redact(message))}\n`)
    return 1
  }
}

/** An unexpected failure as one line: its message (never a stack), redacted and terminal-safe. */
export function lastResort(error: unknown): string {
  return lineSafe(redact(error instanceof Error ? error.message : renderValue(error)))
}

/** Exits with `code` once stdout and stderr are flushed, so handles a driver or an app module left open cannot delay the answer. */
export function exitWith(code: number): void {
  // Writes to pipes and files are synchronous on Linux; the callbacks cover the rest (a
  // pipe on macOS), stderr included since gen writes its errors there.
  let pending = 2
  const flushed = () => {
    if (--pending === 0) process.exit(code)
  }
  process.stdout.write('', flushed)
  process.stderr.write('', flushed)
}
