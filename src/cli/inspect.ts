import { jsonSafe } from '../core/inert.js'
import { redactUrl } from '../core/redact.js'
import { formatTree, type InspectDocument, toInspect } from '../monitor/inspect.js'
import { type CheckState, RUNNING_MARK_STALE_MS, type RunningMark } from '../monitor/types.js'
import { parseCommandArgs } from './args.js'
import { readCaFileFlag } from './ca-file.js'
import { ETCD_FLAG_OPTIONS, etcdFlags, etcdFlagsHelp } from './etcd-flags.js'
import { callMonitorApi } from './monitor-api.js'
import { UsageError } from './usage-error.js'

/** Where `probekit inspect` reads when neither --store nor --api is given (the monitor's default store). */
export const DEFAULT_STORE = 'sqlite:probekit-monitor.sqlite'

export const HELP = `Usage: probekit inspect [--pod ID] [--node NAME] [--format json|tree] [--store sqlite:FILE|etcd://HOST:PORT/PREFIX | --api URL [--token-file FILE]]

Prints the fleet state a monitor recorded, as p2-inspect did:

  { "<pod>": { "<node>": { "health_check": { "status": "passing", "output": "…" } } } }

A pod with several checks lists each under its own name beside health_check; fields
other than status and output (since, checkedAt, target, kind, …) are extras.

Options:
  --pod ID            only this pod
  --node NAME         only this node
  --format FORMAT     json (default: p2-inspect's shape, pretty-printed) or tree (for people)
  --store sqlite:FILE read the monitor's SQLite store directly (default ${DEFAULT_STORE});
                      safe while the monitor runs; or etcd://HOST:PORT[,HOST:PORT]/PREFIX
                      (etcd+tls:// for TLS) for the fleet that monitor replicas share in etcd,
                      read only
  --api URL           ask a running monitor instead, e.g. http://127.0.0.1:8008
  --token-file FILE   with --api: send the first token in FILE as "Authorization: Bearer"
                      (for a monitor started with --auth-token-file)
  --ca-file FILE      with an https:// --api: trust this PEM CA (a private CA's proxy)
${etcdFlagsHelp(22)}
  -h, --help          show this help

Examples:
  probekit inspect --pod carsales.com
  probekit inspect --store sqlite:/var/lib/probekit/monitor.sqlite --format tree
  probekit inspect --api http://monitor.internal:8008 --node aws1.example.com | jq .
  probekit inspect --api https://monitor.example.com --token-file ~/.config/probekit/token
  probekit inspect --store etcd+tls://10.0.0.1:2379/probekit --etcd-ca ca.pem \\
    --etcd-user probekit-reader --etcd-password-file /run/secrets/etcd-password
`

interface Parsed {
  pod: string | undefined
  node: string | undefined
  format: 'json' | 'tree'
  store: string | undefined
  api: string | undefined
  tokenFile: string | undefined
  /** PEM of --ca-file. */
  ca: string | undefined
  etcd: ReturnType<typeof etcdFlags>
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parse(argv)
  if (!parsed) return 0
  const filter = { pod: parsed.pod, node: parsed.node }
  const doc =
    parsed.api !== undefined
      ? await fromApi(parsed.api, filter, parsed.tokenFile, parsed.ca)
      : await fromStore(parsed.store ?? DEFAULT_STORE, filter, parsed.etcd)
  let text: string
  try {
    if (parsed.format === 'tree') {
      const color = process.stdout.isTTY === true && !process.env.NO_COLOR
      text = formatTree(doc, { color })
    } else {
      // JSON.stringify escapes C0 but leaves DEL, C1 (a one-byte CSI, U+009B) and the
      // bidirectional controls (U+202E reorders what a terminal shows) raw.
      text = `${jsonSafe(JSON.stringify(doc, null, 4))}\n`
    }
  } catch (error) {
    // A field nested thousands deep, which only a server that is not the monitor sends.
    if (error instanceof RangeError && parsed.api !== undefined)
      throw new Error(
        `the monitor API at ${redactUrl(parsed.api)} answered JSON nested too deep to print; is --api the monitor's --listen address?`,
      )
    throw error
  }
  process.stdout.write(text)
  return 0
}

function parse(argv: string[]): Parsed | undefined {
  const line = parseCommandArgs(argv, {
    flags: {
      pod: { type: 'string' },
      node: { type: 'string' },
      format: { type: 'string' },
      store: { type: 'string' },
      api: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
      ...ETCD_FLAG_OPTIONS,
    },
    help: HELP,
    positionals: (arg) => `unexpected argument ${JSON.stringify(arg)}; to pick a pod, write --pod ${arg}`,
  })
  if (!line) return undefined
  const { values } = line
  const format = values.format ?? 'json'
  if (format !== 'json' && format !== 'tree') {
    throw new UsageError(`--format ${JSON.stringify(format)} is not a format; use json or tree`)
  }
  if (values.store !== undefined && values.api !== undefined) {
    throw new UsageError('--store and --api are two sources; choose one')
  }
  if (values['token-file'] !== undefined && values.api === undefined) {
    throw new UsageError('--token-file is the credential for --api; add --api URL (a store is read without one)')
  }
  if (values['ca-file'] !== undefined && values.api === undefined) {
    throw new UsageError(
      '--ca-file is the CA for an https:// --api; add --api URL (for an etcd store, the CA is --etcd-ca FILE)',
    )
  }
  return {
    pod: values.pod,
    node: values.node,
    format,
    store: values.store,
    api: values.api,
    tokenFile: values['token-file'],
    ca: values['ca-file'] !== undefined ? readCaFileFlag(values['ca-file']).pem : undefined,
    etcd: etcdFlags(values, values.store),
  }
}

async function fromStore(
  spec: string,
  filter: { pod?: string | undefined; node?: string | undefined },
  etcd: ReturnType<typeof etcdFlags>,
): Promise<InspectDocument> {
  const { isEtcdAddress, openStoreAsync, StoreError } = await import('../monitor/store/index.js')
  if (!/^sqlite3?:/.test(spec) && !isEtcdAddress(spec)) {
    throw new UsageError(
      `--store ${JSON.stringify(redactUrl(spec))} cannot be read by inspect; give the monitor's store as sqlite:FILE or etcd://HOST:PORT/PREFIX, or ask a running monitor with --api URL`,
    )
  }
  let store: Awaited<ReturnType<typeof openStoreAsync>>
  try {
    // Read-only: inspect never creates a store, never writes to the monitor's, and never
    // registers as an etcd replica.
    store = await openStoreAsync(spec, { readonly: true, etcd: { logger: false, ...etcd } })
  } catch (error) {
    if (error instanceof StoreError) throw new Error(error.message)
    throw error
  }
  try {
    const states = expireIfStopped(store.loadStates(), store.runningMark?.(), Date.now())
    // The silences kept in the store mark their checks, as the monitor's API does. A
    // maintenance window lives in a manifest, which the store does not hold: --api shows those.
    const { Silences } = await import('../monitor/silences.js')
    const silences = new Silences(store)
    try {
      for (const state of states) {
        const mark = silences.match(state)
        if (mark) state.silenced = mark
      }
    } finally {
      silences.close()
    }
    return toInspect(states, filter)
  } finally {
    const shutdown = (store as { shutdown?: () => Promise<void> }).shutdown
    if (shutdown) await shutdown.call(store)
    else store.close()
  }
}

/**
 * The states as a reader should take them: when the monitor that writes the store has
 * stopped, or has not marked it for `RUNNING_MARK_STALE_MS` (killed, its machine lost), its
 * results have expired — every check is `unknown`, its output saying since when and what
 * the last result was. States are written only when they change, so a stored `passing`
 * says nothing about now once nobody checks.
 */
export function expireIfStopped(states: CheckState[], mark: RunningMark | undefined, now: number): CheckState[] {
  if (!mark) return states
  const at = Date.parse(mark.at)
  const gone = !mark.running
    ? `the monitor stopped at ${mark.at}`
    : now - at > RUNNING_MARK_STALE_MS
      ? `the monitor has not marked this store since ${mark.at} (is it running?)`
      : undefined
  if (gone === undefined) return states
  return states.map((state) =>
    state.state === 'unknown'
      ? state
      : {
          ...state,
          state: 'unknown',
          since: mark.at,
          output: `${gone}; its last result was ${state.state}: ${state.output}`,
        },
  )
}

async function fromApi(
  base: string,
  filter: { pod?: string | undefined; node?: string | undefined },
  tokenFile: string | undefined,
  ca: string | undefined,
): Promise<InspectDocument> {
  const doc = await callMonitorApi(base, '/v1/inspect', { query: filter, tokenFile, ca })
  // What is printed is what the API said: anything else than pods of nodes of checks (a
  // server that is not the monitor) is refused before it is shown as checks, or nested so
  // deep that printing it overflows the stack.
  if (!isInspectDocument(doc)) {
    throw new Error(
      `the monitor API at ${redactUrl(base)} answered JSON that is not an inspect document (pods of nodes of checks); is --api the monitor's --listen address?`,
    )
  }
  return doc
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** `{ pod: { node: { check: { status, output, … } } } }`, as GET /v1/inspect answers. */
function isInspectDocument(doc: unknown): doc is InspectDocument {
  if (!isObject(doc)) return false
  for (const nodes of Object.values(doc)) {
    if (!isObject(nodes)) return false
    for (const checks of Object.values(nodes)) {
      if (!isObject(checks)) return false
      for (const check of Object.values(checks)) {
        if (!isObject(check) || typeof check.status !== 'string' || typeof check.output !== 'string') return false
      }
    }
  }
  return true
}
