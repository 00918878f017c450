import { terminalSafe } from '../core/inert.js'
import type { Group, Report } from '../core/types.js'
import { formatText } from '../format/text.js'
import { parseCommandArgs } from './args.js'
import { UsageError } from './usage-error.js'

export const HELP = `Usage: probekit probe --live|--ready|--startup [-q] [--config FILE] [--verbose]

Runs the app's own probes in a fresh process and prints the Kubernetes-style report:
the exec-probe counterpart of /livez, /readyz and /healthz, for processes that serve no
HTTP. Exits 0 when the group passes, 1 when it fails.

The config module exports the app's health: "export const health = createHealth(…)"
(or a default export). It must not start servers or workers when imported. Node loads it
as its extension and package.json say: import/export needs .mjs, or .js under
"type": "module"; a .cjs file, or .js in a CommonJS package, uses module.exports.

Options:
  --live, --ready, --startup   the group to run (exactly one)
  --config FILE    the module that exports the health (default: $PROBEKIT_CONFIG,
                   else ./health.js or ./health.mjs). TypeScript needs a Node that loads
                   it (22.18+ strips erasable types: no enums), or NODE_OPTIONS="--import tsx"
  --verbose        also print each check's duration and observed value
  -q, --quiet      print no report, only errors (a bad flag, a config module that does not
                   load); the exit status says the rest
  -h, --help       show this help

Examples:
  probekit probe --ready
  probekit probe --live --config /app/dist/health.js
  PROBEKIT_CONFIG=/app/health.mjs probekit probe --startup -q

Kubernetes exec probe:
  readinessProbe:
    exec:
      command: ["probekit", "probe", "--ready", "--config", "/app/dist/health.js"]
`

// django-kubernetes' `manage.py probe` flags. Its --health is a liveness check (its /healthz
// answers as /livez does), where probekit's /healthz runs every probe: --startup.
const HEALTH =
  "django-kubernetes' --health checks liveness: write --live here (--startup runs every probe, as probekit's /healthz does)"
const DJANGO_KUBERNETES_FLAGS: Record<string, string> = {
  '--health': HEALTH,
  '-H': HEALTH,
  '-L': 'write --live (the groups have no short form)',
  '-R': 'write --ready (the groups have no short form)',
  '-v': "Django's verbosity is -q here for no report (-v 0), or --verbose for durations and observed values",
  '--verbosity': "Django's verbosity is -q here for no report (-v 0), or --verbose for durations and observed values",
}

const LABELS: Record<Group, string> = { live: 'livez', ready: 'readyz', startup: 'healthz' }

export async function run(argv: string[]): Promise<number> {
  const line = parseCommandArgs(argv, {
    flags: {
      live: { type: 'boolean' },
      ready: { type: 'boolean' },
      startup: { type: 'boolean' },
      config: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      verbose: { type: 'boolean' },
    },
    help: HELP,
    otherTools: DJANGO_KUBERNETES_FLAGS,
  })
  if (!line) return 0
  const { values } = line
  const groups = (['live', 'ready', 'startup'] as const).filter((g) => values[g])
  if (groups.length !== 1) {
    throw new UsageError(
      groups.length === 0
        ? 'say which probes to run: --live, --ready or --startup'
        : `choose one group, not ${groups.map((g) => `--${g}`).join(' and ')}`,
    )
  }
  const group = groups[0] as Group
  const quiet = values.quiet === true

  const { resolveConfigPath, loadHealthModule } = await import('./health-module.js')
  const path = resolveConfigPath(values.config)
  // Quiet means quiet: the app's own logging (transitions, driver warnings) is muted too.
  const restoreConsole = quiet ? muteConsole() : undefined
  try {
    const health = await loadHealthModule(path)
    let report: Report
    try {
      await health.firstResults(group)
      report = await health.run(group)
    } finally {
      // Stops background probes and aborts anything in flight; the CLI exits right after,
      // so handles the module left open (pools, sockets) cannot hold the process.
      await health.close()
    }
    // Reasons quote what dependencies said: inert before they reach a terminal.
    if (!quiet) process.stdout.write(terminalSafe(render(report, group, values.verbose === true)))
    return report.status === 'fail' ? 1 : 0
  } finally {
    restoreConsole?.()
  }
}

function render(report: Report, group: Group, verbose: boolean): string {
  let out = formatText(report, { label: LABELS[group], verbose: true, showReasons: true })
  if (verbose) {
    for (const check of report.checks) {
      const unit = check.observedUnit ? ` ${check.observedUnit}` : ''
      const observed = check.observedValue === undefined ? '' : `, observed ${check.observedValue}${unit}`
      out += `  ${check.name}: ${check.status} in ${check.durationMs.toFixed(1)} ms${observed}\n`
    }
  }
  return out
}

function muteConsole(): () => void {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const
  const saved = methods.map((m) => console[m])
  const noop = () => {}
  for (const m of methods) console[m] = noop
  return () => {
    methods.forEach((m, i) => {
      console[m] = saved[i] as (typeof console)[typeof m]
    })
  }
}
