/**
 * The fleet state in p2-inspect's shape, which `probekit inspect`, `GET /v1/inspect` and
 * anything written for p2 read:
 *
 * ```json
 * { "<pod>": { "<node>": { "health_check": { "status": "passing", "output": "…" } } } }
 * ```
 *
 * p2 had one check per pod, named `health_check`; a pod with several checks lists each
 * under its own name beside it. Fields beyond `status` and `output` are extra and may grow.
 */
import { formatAge } from '../core/age.js'
import { lineSafe } from '../core/inert.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import {
  type CheckKey,
  type CheckKind,
  type CheckState,
  compareChecks,
  type HealthState,
  type SilenceMark,
} from './types.js'

/** One check in the inspect document. `status` and `output` are p2's; the rest is extra. */
export interface InspectCheck {
  status: HealthState
  output: string
  /** When the check entered its state (ISO 8601). */
  since: string
  /** When it was last checked (ISO 8601), if ever. */
  checkedAt?: string
  /** What is checked, credentials redacted. */
  target: string
  kind: CheckKind
  durationMs?: number
  httpStatus?: number
  /** While a silence or maintenance window holds its notifications back. */
  silenced?: SilenceMark
}

/** `{ pod: { node: { check: InspectCheck } } }` */
export type InspectDocument = Record<string, Record<string, Record<string, InspectCheck>>>

export interface InspectFilter {
  pod?: string | undefined
  node?: string | undefined
}

const INSPECT_FILTER_KEYS = optionKeys<InspectFilter>()({ pod: true, node: true })

/** Whether a state matches a pod/node filter (an absent filter matches everything). */
export function matchesFilter(state: CheckState, filter: InspectFilter): boolean {
  return (
    (filter.pod === undefined || state.pod === filter.pod) && (filter.node === undefined || state.node === filter.node)
  )
}

/**
 * Builds the p2-inspect document from current states, sorted by pod, node and check
 * (with `health_check` first in each node).
 *
 * @example
 * const doc = toInspect(monitor.states(), { pod: 'carsales.com' })
 * console.log(JSON.stringify(doc, null, 2))
 */
export function toInspect(states: readonly CheckState[], filter: InspectFilter = {}): InspectDocument {
  rejectUnknownKeys('toInspect(states, filter)', filter, INSPECT_FILTER_KEYS)
  // Maps first, objects last: a pod, node or check may be named like what every object
  // inherits (`constructor`, `__proto__`), which as a key of a plain object would reach
  // Object's own properties instead of a fresh entry. Object.fromEntries makes own keys.
  const pods = new Map<string, Map<string, Map<string, InspectCheck>>>()
  for (const s of sortStates(states.filter((s) => matchesFilter(s, filter)))) {
    let nodes = pods.get(s.pod)
    if (!nodes) pods.set(s.pod, (nodes = new Map()))
    let checks = nodes.get(s.node)
    if (!checks) nodes.set(s.node, (checks = new Map()))
    const entry: InspectCheck = { status: s.state, output: s.output, since: s.since, target: s.target, kind: s.kind }
    if (s.checkedAt !== undefined) entry.checkedAt = s.checkedAt
    if (s.durationMs !== undefined) entry.durationMs = s.durationMs
    if (s.httpStatus !== undefined) entry.httpStatus = s.httpStatus
    if (s.silenced !== undefined) entry.silenced = s.silenced
    checks.set(s.check, entry)
  }
  return Object.fromEntries(
    [...pods].map(([pod, nodes]) => [
      pod,
      Object.fromEntries([...nodes].map(([node, checks]) => [node, Object.fromEntries(checks)])),
    ]),
  )
}

/** States in reading order (`compareChecks`): pod, node, then check with p2's `health_check` first. */
export function sortStates<T extends CheckKey>(states: T[]): T[] {
  return states.sort(compareChecks)
}

/** A symbol and a word for each state, so no reader depends on colour alone. */
export const STATE_MARKS: Record<HealthState, string> = {
  passing: '✔',
  warning: '▲',
  critical: '✖',
  unknown: '?',
}

export interface TreeOptions {
  /** Colour the state words with ANSI escapes (only for a terminal). */
  color?: boolean
  /** Lines of output shown per check (the tail). Default 3; 0 hides output. */
  outputLines?: number
  /** "Now", for the relative times. */
  now?: number
}

const ANSI: Record<HealthState, string> = { passing: '32', warning: '33', critical: '31', unknown: '90' }

/**
 * The inspect document as an indented tree for people:
 *
 * ```
 * carsales.com
 *   aws1.example.com
 *     ✔ health_check  passing  for 192 s    https://10.0.0.5:8001/_status
 *         ok
 * ```
 */
export function formatTree(doc: InspectDocument, options: TreeOptions = {}): string {
  const now = options.now ?? Date.now()
  const outputLines = options.outputLines ?? 3
  const pods = Object.keys(doc)
  if (pods.length === 0) return 'no checks recorded\n'
  let out = ''
  for (const pod of pods) {
    out += `${oneLine(pod)}\n`
    const nodes = doc[pod] as Record<string, Record<string, InspectCheck>>
    for (const node of Object.keys(nodes)) {
      out += `  ${oneLine(node)}\n`
      const checks = nodes[node] as Record<string, InspectCheck>
      const width = Math.max(...Object.keys(checks).map((c) => oneLine(c).length))
      for (const [name, check] of Object.entries(checks)) {
        // What an API answered is shown, never obeyed: a state that is none of the four
        // (from another program, or a man in the middle) is escaped like any other text.
        const known = Object.hasOwn(STATE_MARKS, check.status) ? (check.status as HealthState) : undefined
        const word = (known ?? oneLine(String(check.status))).padEnd(8)
        const shown = options.color ? `\x1b[${ANSI[known ?? 'unknown']}m${word}\x1b[0m` : word
        const age = formatAge(now - Date.parse(check.since))
        out += `    ${STATE_MARKS[known ?? 'unknown']} ${oneLine(name).padEnd(width)}  ${shown}  for ${age.padEnd(9)}  ${oneLine(check.target)}\n`
        const muted = check.silenced
        if (muted)
          out += `        silenced until ${oneLine(muted.until)}${muted.author ? ` by ${oneLine(muted.author)}` : ''}: ${oneLine(muted.comment)}\n`
        if (outputLines > 0 && check.output) {
          const lines = check.output.trimEnd().split('\n')
          const tail = lines.slice(-outputLines)
          if (lines.length > tail.length) out += `        … ${lines.length - tail.length} more line(s)\n`
          for (const line of tail) out += `        ${oneLine(lineTail(line))}\n`
        }
      }
    }
  }
  return out
}

/** Characters of one output line `formatTree` shows: its end, where a reason usually is. */
const MAX_TREE_LINE = 300

/** The end of a long line, marked as cut: a 4 KB one-line body is not 4 KB of terminal. */
function lineTail(line: string): string {
  if (line.length <= MAX_TREE_LINE) return line
  let start = line.length - MAX_TREE_LINE
  // Not half of a character outside the Basic Multilingual Plane (an emoji).
  const code = line.charCodeAt(start)
  if (code >= 0xdc00 && code <= 0xdfff) start++
  return `…${line.slice(start)}`
}

/**
 * Control characters (bidirectional ones too) from a target or a silence's comment never
 * reach the terminal raw, and each field stays on its line.
 */
function oneLine(text: string): string {
  return lineSafe(text)
}
