import { jsonSafe, lineSafe } from '../core/inert.js'
import { didYouMean } from '../core/suggest.js'
import { MAX_SILENCE_MS, MAX_SILENCE_TEXT } from '../monitor/silences.js'
import type { Silence } from '../monitor/types.js'
import { parseCommandArgs, parseDuration } from './args.js'
import { readCaFileFlag } from './ca-file.js'
import { callMonitorApi } from './monitor-api.js'
import { UsageError } from './usage-error.js'

export const DEFAULT_API = 'http://127.0.0.1:8008'

export const HELP = `Usage: probekit silence add --pod P [--node N] [--check C] (--for DURATION | --until TIME) --comment TEXT [--author NAME]
       probekit silence list
       probekit silence expire ID

Holds back the notifications (webhooks, Alertmanager) of a pod's checks for a while — a
maintenance, a known outage. The checks keep running and their states stay true; the API,
inspect and the dashboard mark them silenced. When a silence ends and a check still fails,
one notification goes out. Talks to a running monitor's API; see docs/alerting.md.

Options:
  --api URL           the monitor's API (default ${DEFAULT_API})
  --token-file FILE   send the first token in FILE as "Authorization: Bearer" (for a monitor
                      started with --auth-token-file: adding and expiring are writes)
  --ca-file FILE      with an https:// --api: trust this PEM CA (a private CA's proxy)
  --pod ID            add: the pod to silence (required)
  --node NAME         add: only the pod on this node (default every node)
  --check NAME        add: only this check of the pod (default all of its checks)
  --for DURATION      add: how long, e.g. 30m, 2h, 1d; at most ${MAX_SILENCE_TEXT}
  --until TIME        add: until when, ISO 8601 with a zone, e.g. 2026-12-05T06:00:00Z;
                      at most ${MAX_SILENCE_TEXT} away
  --comment TEXT      add: why (required), e.g. a ticket
  --author NAME       add: who (default $USER)
  --json              print JSON instead of lines
  -h, --help          show this help

Examples:
  probekit silence add --pod carsales --for 2h --comment "DB migration, OPS-1234"
  probekit silence add --pod carsales --check db --until 2026-12-05T06:00:00Z --comment "failover test"
  probekit silence list --api https://monitor.example.com --token-file ~/.config/probekit/token
  probekit silence expire 4f1c…
`

export async function run(argv: string[]): Promise<number> {
  const line = parseCommandArgs(argv, {
    flags: {
      api: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
      pod: { type: 'string' },
      node: { type: 'string' },
      check: { type: 'string' },
      for: { type: 'string' },
      until: { type: 'string' },
      comment: { type: 'string' },
      author: { type: 'string' },
      json: { type: 'boolean' },
    },
    help: HELP,
    positionals: true,
  })
  if (!line) return 0
  const { values, positionals } = line
  const [action, ...rest] = positionals
  const api = (values.api as string | undefined) ?? DEFAULT_API
  const tokenFile = values['token-file'] as string | undefined
  const ca = values['ca-file'] !== undefined ? readCaFileFlag(String(values['ca-file'])).pem : undefined
  const json = values.json === true
  const print = (text: string) => process.stdout.write(`${text}\n`)

  if (action === 'add') {
    if (rest.length > 0) throw new UsageError(`silence add takes no arguments besides its flags, got ${rest.join(' ')}`)
    if (values.pod === undefined) throw new UsageError('silence add needs --pod ID')
    if (values.comment === undefined)
      throw new UsageError('silence add needs --comment TEXT: say why (a ticket, the work)')
    if ((values.for === undefined) === (values.until === undefined))
      throw new UsageError('silence add needs one of --for DURATION (e.g. 2h) and --until TIME')
    const forMs = values.for !== undefined ? parseDuration(String(values.for), '--for') : undefined
    if (forMs !== undefined && forMs > MAX_SILENCE_MS)
      throw new UsageError(
        `--for ${values.for} is longer than a silence may last, ${MAX_SILENCE_TEXT}; add another when it ends`,
      )
    const body = {
      pod: values.pod,
      comment: values.comment,
      author: values.author ?? process.env.USER ?? '',
      ...(values.node !== undefined ? { node: values.node } : {}),
      ...(values.check !== undefined ? { check: values.check } : {}),
      ...(forMs !== undefined ? { for: `${forMs}ms` } : {}),
      ...(values.until !== undefined ? { until: values.until } : {}),
    }
    const { silence, matching } = (await callMonitorApi(api, '/v1/silences', {
      method: 'POST',
      body,
      tokenFile,
      ca,
    })) as {
      silence: Silence
      matching?: number
    }
    print(json ? inertJson(silence) : `silenced ${describe(silence)}`)
    // A silence that holds nothing back is most often a typo: the pod meant goes on paging.
    if (!json && matching === 0)
      print(
        `note: it matches no check the monitor watches now (check --pod${values.node !== undefined ? ', --node' : ''}${values.check !== undefined ? ' and --check' : ''}); it applies to one that appears later`,
      )
    return 0
  }
  if (action === 'list') {
    if (rest.length > 0) throw new UsageError(`silence list takes no arguments, got ${rest.join(' ')}`)
    const { silences } = (await callMonitorApi(api, '/v1/silences', { tokenFile, ca })) as { silences: Silence[] }
    if (json) print(inertJson(silences))
    else if (silences.length === 0) print('no silences')
    else for (const s of silences) print(describe(s))
    return 0
  }
  if (action === 'expire') {
    const [id, ...more] = rest
    if (!id || more.length > 0)
      throw new UsageError('silence expire takes one silence id (see "probekit silence list")')
    const { silence } = (await callMonitorApi(api, `/v1/silences/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      tokenFile,
      ca,
    })) as { silence: Silence }
    print(json ? inertJson(silence) : `expired ${describe(silence)}`)
    return 0
  }
  throw new UsageError(
    action === undefined
      ? 'say what to do: probekit silence add|list|expire'
      : `unknown action ${JSON.stringify(action)}${didYouMean(action, ['add', 'list', 'expire'])}; use add, list or expire`,
  )
}

/** What the API said as JSON, made inert (`jsonSafe`): the same JSON to a parser. */
function inertJson(value: unknown): string {
  return jsonSafe(JSON.stringify(value, null, 2))
}

/** One line: what is silenced, until when, by whom and why (what the API said, made inert). */
function describe(s: Silence): string {
  const what = `${s.pod}${s.node ? ` on ${s.node}` : ''}${s.check ? ` check ${s.check}` : ''}`
  const ended = Date.parse(s.endsAt) <= Date.now()
  return lineSafe(
    `${s.id}  ${what}  ${ended ? 'ended' : 'until'} ${s.endsAt}${s.author ? `  by ${s.author}` : ''}  "${s.comment}"`,
  )
}
