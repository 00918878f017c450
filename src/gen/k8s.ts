/**
 * Kubernetes `livenessProbe`, `readinessProbe` and `startupProbe` for a container, with
 * exactly the fields of the Kubernetes Probe type, timed to agree with the app's deadlines.
 */
import { Document } from 'yaml'
import type { Group } from '../core/types.js'
import { checkCommand, type GenSettings } from './settings.js'
import { renderYaml } from './yaml.js'

/** A Kubernetes Probe (core/v1), limited to the fields probekit sets. */
export interface KubernetesProbe {
  httpGet?: {
    path: string
    port: number | string
    scheme?: 'HTTPS'
    httpHeaders?: { name: string; value: string }[]
  }
  exec?: { command: string[] }
  /** Kubernetes >= 1.27: the kubelet calls grpc.health.v1.Health/Check with `service`. */
  grpc?: { port: number; service: string }
  initialDelaySeconds: number
  periodSeconds: number
  timeoutSeconds: number
  successThreshold: number
  failureThreshold: number
}

export const PROBE_FIELDS: Record<Group, 'livenessProbe' | 'readinessProbe' | 'startupProbe'> = {
  live: 'livenessProbe',
  ready: 'readinessProbe',
  startup: 'startupProbe',
}

/** One Kubernetes probe for a group. */
export function kubernetesProbe(settings: GenSettings, group: Group): KubernetesProbe {
  const periodSeconds = Math.max(1, Math.ceil(settings.periodSeconds))
  // Kubernetes requires successThreshold 1 for liveness and startup probes.
  const successThreshold = group === 'ready' ? settings.successThreshold : 1
  // The startup probe must allow the whole start period before the kubelet gives up.
  const failureThreshold =
    group === 'startup'
      ? Math.max(settings.failureThreshold, Math.ceil(settings.startPeriodSeconds / periodSeconds))
      : settings.failureThreshold
  const handler: Pick<KubernetesProbe, 'httpGet' | 'exec' | 'grpc'> = {}
  // The kubelet expands `$(NAME)` in an exec probe's command from the container's env, and
  // reads `$$` as a literal `$`: a path with a `$` runs as given.
  if (settings.exec)
    handler.exec = { command: checkCommand(settings, group).map((word) => word.replaceAll('$', '$$$$')) }
  // addHealthService answers the service names live, ready and startup from the groups.
  else if (settings.grpc) handler.grpc = { port: settings.grpc.port, service: group }
  else {
    const httpGet: NonNullable<KubernetesProbe['httpGet']> = { path: settings.paths[group], port: settings.port }
    if (settings.scheme === 'HTTPS') httpGet.scheme = 'HTTPS'
    if (settings.headers.length > 0) httpGet.httpHeaders = settings.headers.map((h) => ({ ...h }))
    handler.httpGet = httpGet
  }
  return {
    ...handler,
    initialDelaySeconds: Math.ceil(settings.initialDelaySeconds),
    periodSeconds,
    timeoutSeconds: settings.timeoutSeconds[group],
    successThreshold,
    failureThreshold,
  }
}

/**
 * The three probes as YAML to paste into a container spec, or, with `container`, a
 * `containers:` list entry carrying the container's name (for a strategic merge patch).
 */
export function renderKubernetes(
  settings: GenSettings,
  options: { container?: string; comment?: string } = {},
): string {
  const probes: Record<string, KubernetesProbe> = {}
  for (const group of ['live', 'ready', 'startup'] as const) {
    if (!settings.unserved?.includes(group)) probes[PROBE_FIELDS[group]] = kubernetesProbe(settings, group)
  }
  const body = options.container ? { containers: [{ name: options.container, ...probes }] } : probes
  const header = options.comment ? `${options.comment.replace(/^/gm, '# ')}\n` : ''
  return header + renderYaml(new Document(body))
}
