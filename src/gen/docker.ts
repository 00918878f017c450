/**
 * A Dockerfile `HEALTHCHECK` line that needs no curl in the image: it runs `probekit check`
 * against the app's readiness endpoint (or `probekit probe` for exec checks).
 */
import type { Group } from '../core/types.js'
import { checkCommand, dockerDuration, type GenSettings } from './settings.js'

/** The Docker health check's timing, shared by the Dockerfile line and the compose block. */
export function dockerTiming(settings: GenSettings, group: Group) {
  return {
    interval: dockerDuration(settings.periodSeconds),
    timeout: dockerDuration(settings.timeoutSeconds[group]),
    startPeriod: dockerDuration(settings.startPeriodSeconds),
    retries: settings.failureThreshold,
  }
}

/**
 * `HEALTHCHECK --interval=10s --timeout=2s --start-period=30s --retries=3 CMD ["probekit","check",…]`.
 * The exec form (a JSON array) runs without a shell, so the image needs none either.
 */
export function renderDockerfile(settings: GenSettings, options: { group?: Group; comment?: string } = {}): string {
  const group = options.group ?? 'ready'
  const t = dockerTiming(settings, group)
  const header = options.comment ? `${options.comment.replace(/^/gm, '# ')}\n` : ''
  return `${header}HEALTHCHECK --interval=${t.interval} --timeout=${t.timeout} --start-period=${t.startPeriod} --retries=${t.retries} CMD ${JSON.stringify(checkCommand(settings, group))}\n`
}
