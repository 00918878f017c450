/**
 * The settings every generator shares: where the health endpoints are, how often the
 * orchestrator asks, and how long it waits — derived from the app's own health module
 * when there is one, so the deployment files agree with the app's deadlines.
 */

import { GROUPS, type Group } from '../core/types.js'
import type { HttpHealth } from '../http/surface.js'

/** What a generator needs to know. Durations are whole or fractional seconds, as the orchestrators take them. */
export interface GenSettings {
  /** The port the health endpoints listen on (a number, or a Kubernetes port name). */
  port: number | string
  /** The path of each group's endpoint. */
  paths: Record<Group, string>
  /** `HTTPS` to probe over TLS (Kubernetes `scheme`). */
  scheme: 'HTTP' | 'HTTPS'
  /** Extra request headers (Kubernetes `httpHeaders`, `probekit check --header`). */
  headers: { name: string; value: string }[]
  /** How often the orchestrator probes, in seconds. */
  periodSeconds: number
  /** Consecutive failures before the orchestrator acts. */
  failureThreshold: number
  /** Consecutive successes before readiness counts as passing again. */
  successThreshold: number
  /** Seconds before the first probe (Kubernetes `initialDelaySeconds`). */
  initialDelaySeconds: number
  /** How long the app may take to start (Docker `start_period`; sizes the startup probe). */
  startPeriodSeconds: number
  /** The orchestrator's timeout for one probe, in seconds, per group. */
  timeoutSeconds: Record<Group, number>
  /** The per-target deadline `probekit check` uses inside a Docker health check, in ms, per group. */
  checkTimeoutMs: Record<Group, number>
  /** The probekit command inside the container (`probekit`, or e.g. `node_modules/.bin/probekit`). */
  bin: string
  /** Exec probes run `probekit probe` with this config module; undefined for HTTP probes. */
  exec: { config: string | undefined } | undefined
  /** Kubernetes native gRPC probes on this port (`addHealthService`); undefined for HTTP probes. */
  grpc?: { port: number } | undefined
  /**
   * Groups the app's health module serves no HTTP path for (`paths: { startup: false }`):
   * HTTP probes of them are left out, since their path answers 404. Empty for exec and
   * gRPC probes, which do not go through the paths.
   */
  unserved?: readonly Group[]
}

export const DEFAULT_PATHS: Record<Group, string> = { live: '/livez', ready: '/readyz', startup: '/healthz' }

/** The library's default per-probe deadline (createHealth's `timeout`), used when no config module is given. */
export const DEFAULT_DEADLINE_MS = 900

/** What an HTTP answer may take beyond the slowest deadline: the network and the server's own work. */
export const HTTP_MARGIN_MS = 100

/** What an exec probe may take beyond the slowest deadline: starting Node and importing the app's module. */
export const EXEC_MARGIN_MS = 1000

/** The time budget of one group: its slowest deadline and which probe sets it. */
export interface GroupBudget {
  /** All the time the group's probes may take: `firstRun`'s deadline, then the slowest on request. */
  deadlineMs: number
  /** The probe with the slowest deadline, or undefined when the group runs no probes on request. */
  slowest: string | undefined
  /** That probe's deadline (0 without one). */
  slowestMs?: number
  /**
   * For a fresh process (`probekit probe`, an exec probe): the background probe whose first
   * run it waits for longest, before it runs the others.
   */
  firstRun?: { name: string; deadlineMs: number }
}

/** The slowest of `deadlines`, or undefined for none. */
function slowestOf(deadlines: { name: string; timeoutMs: number }[]): { name: string; timeoutMs: number } | undefined {
  let slowest: { name: string; timeoutMs: number } | undefined
  for (const d of deadlines) if (!slowest || d.timeoutMs > slowest.timeoutMs) slowest = d
  return slowest
}

/**
 * The time each group's probes may take, from the app's health: for an HTTP (or gRPC)
 * probe the slowest deadline a request waits on; for `exec` (`probekit probe` in a fresh
 * process) also the first run of the background probes, which it waits for before it runs
 * the rest.
 */
export function budgetsOf(health: HttpHealth, options: { exec?: boolean } = {}): Record<Group, GroupBudget> {
  const out = {} as Record<Group, GroupBudget>
  for (const group of GROUPS) {
    const onRequest = slowestOf(health.deadlines(group))
    const background = options.exec ? slowestOf(health.deadlines(group, 'background')) : undefined
    const budget: GroupBudget = {
      deadlineMs: (onRequest?.timeoutMs ?? 0) + (background?.timeoutMs ?? 0),
      slowest: onRequest?.name,
      slowestMs: onRequest?.timeoutMs ?? 0,
    }
    if (background) budget.firstRun = { name: background.name, deadlineMs: background.timeoutMs }
    out[group] = budget
  }
  return out
}

/**
 * Where a budget comes from, in words: `"database" has a 2500 ms deadline`, or with a
 * background probe's first run before it `the first run of "queue-depth" (3000 ms), then
 * "database" (2500 ms)`; undefined when no probe sets it.
 */
export function budgetWords(budget: GroupBudget): string | undefined {
  const { slowest, slowestMs, firstRun } = budget
  if (!firstRun) return slowest === undefined ? undefined : `"${slowest}" has a ${budget.deadlineMs} ms deadline`
  const first = `the first run of the background probe "${firstRun.name}" (${firstRun.deadlineMs} ms)`
  return slowest === undefined ? `${first} is waited for` : `${first}, then "${slowest}" (${slowestMs} ms)`
}

/** The budget when there is no config module: the library's default deadline. */
export function defaultBudgets(): Record<Group, GroupBudget> {
  const budget: GroupBudget = { deadlineMs: DEFAULT_DEADLINE_MS, slowest: undefined }
  return { live: budget, ready: budget, startup: budget }
}

/**
 * The first path the app serves for each group, so generated probes ask the paths the
 * app really answers (including custom ones like `/_healthz/readyz/`).
 */
export function pathsOf(health: HttpHealth): Partial<Record<Group, string>> {
  const out: Partial<Record<Group, string>> = {}
  for (const [path, group] of health.paths) {
    if (!path.startsWith('/')) continue
    // The default path wins when the app serves it; otherwise the first path configured.
    if (out[group] === undefined || path === DEFAULT_PATHS[group]) out[group] = path
  }
  return out
}

/** Seconds for Docker and compose: whole seconds as `10s`, fractions as milliseconds (`1500ms`). */
export function dockerDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`
}

/** The URL `probekit check` asks inside the container for a group. */
function localUrl(settings: GenSettings, group: Group): string {
  const scheme = settings.scheme === 'HTTPS' ? 'https' : 'http'
  return `${scheme}://127.0.0.1:${settings.port}${settings.paths[group]}`
}

/** The command a container runs for a group: `probekit probe --ready …` or `probekit check URL`. */
export function checkCommand(settings: GenSettings, group: Group): string[] {
  if (settings.exec) {
    const command = [settings.bin, 'probe', `--${group}`]
    if (settings.exec.config !== undefined) command.push('--config', settings.exec.config)
    return command
  }
  const command = [settings.bin, 'check']
  command.push('--timeout', `${settings.checkTimeoutMs[group]}ms`)
  for (const header of settings.headers) command.push('--header', `${header.name}: ${header.value}`)
  command.push(localUrl(settings, group))
  return command
}
