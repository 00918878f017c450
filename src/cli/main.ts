import { lineSafe } from '../core/inert.js'
import { redact } from '../core/redact.js'
import { didYouMean } from '../core/suggest.js'
import { type Command, type ErrorStream, runCommand } from './run-command.js'
import { VERSION } from './version.js'

export type { Command } from './run-command.js'
export { VERSION }

interface CommandEntry {
  summary: string
  load: () => Promise<Command>
  /** Where its errors go; stdout unless its stdout is data to redirect (see ErrorStream). */
  errors?: ErrorStream
}

// Commands load lazily so `probekit check http://…` pays only for what it uses.
const commands: Record<string, CommandEntry> = {
  check: {
    summary: 'check targets by URL (http, tcp, redis, postgres, …) — for Docker HEALTHCHECK and exec probes',
    load: () => import('./check.js'),
  },
  probe: {
    summary: "run the app's own live/ready/startup probes in a fresh process",
    load: () => import('./probe.js'),
  },
  worker: {
    summary: 'check a worker: liveness, readiness and last-work files, broker ping',
    load: () => import('./worker.js'),
  },
  gen: {
    summary: 'generate Kubernetes, Docker, compose and nginx health-check snippets',
    load: () => import('./gen.js'),
    // `probekit gen k8s > probes.yaml`: an error must not become the file.
    errors: 'stderr',
  },
  monitor: {
    summary: "watch a fleet's status endpoints from manifests; API, metrics, dashboard",
    load: () => import('./monitor.js'),
  },
  inspect: {
    summary: 'print the fleet state the monitor recorded (p2-inspect JSON)',
    load: () => import('./inspect.js'),
    // `probekit inspect | jq`, `> state.json`: the document on stdout, a failure beside it.
    errors: 'stderr',
  },
  silence: {
    summary: "hold a pod's notifications back for a while (a running monitor's silences)",
    load: () => import('./silence.js'),
    // `probekit silence list --json | jq`: likewise.
    errors: 'stderr',
  },
}

/** Where `command`'s errors go: stderr for those whose stdout is data, stdout otherwise. */
export function errorStreamOf(command: string | undefined): ErrorStream {
  return (command !== undefined && Object.hasOwn(commands, command) && commands[command]?.errors) || 'stdout'
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length))
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `probekit ${VERSION} — health checks for Node.js services and their fleets

Usage: probekit <command> [options]

Commands:
${lines.join('\n')}

Run "probekit <command> --help" for a command's options and examples.

Exit status: 0 healthy, 1 unhealthy or a usage error (never 2, which Docker reserves).

Examples:
  probekit check http://127.0.0.1:8080/readyz redis://127.0.0.1:6379
  probekit probe --ready --config ./health.js
  probekit gen k8s --port 9000
`
}

/** Runs the CLI and returns the exit status. Expected failures print one sentence, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    process.stdout.write(`${mainHelp()}\nprobekit: usage error: name a command, e.g. probekit check --help\n`)
    return 1
  }
  if (name === '-h' || name === '--help') {
    process.stdout.write(mainHelp())
    return 0
  }
  // `probekit help check` is `probekit check --help`.
  if (name === 'help') return rest[0] === undefined ? main(['--help']) : main([rest[0], '--help'])
  if (name === '-V' || name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const entry = commands[name]
  if (!entry) {
    const known = Object.keys(commands)
    const hint = didYouMean(name, known, (command) => `probekit ${command}`)
    process.stdout.write(
      `probekit: usage error: unknown command "${lineSafe(redact(name))}"${hint}; the commands are ${known.join(', ')}. See "probekit --help".\n`,
    )
    return 1
  }
  return runCommand(name, entry.load, rest, entry.errors)
}
