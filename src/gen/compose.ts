/** A compose `healthcheck:` block (optionally under `services.<name>`), running `probekit check`. */
import { Document, isSeq } from 'yaml'
import type { Group } from '../core/types.js'
import { dockerTiming } from './docker.js'
import { checkCommand, type GenSettings } from './settings.js'
import { renderYaml } from './yaml.js'

/** The compose `healthcheck` fields probekit sets. */
export interface ComposeHealthcheck {
  test: string[]
  interval: string
  timeout: string
  retries: number
  start_period: string
}

export function composeHealthcheck(settings: GenSettings, group: Group = 'ready'): ComposeHealthcheck {
  const t = dockerTiming(settings, group)
  return {
    // Compose interpolates `$NAME` and `${NAME}` in every value, here too: `$$` is a literal
    // `$`, so a header value or a path reaches the command as written, not as the environment of
    // whoever runs `docker compose`.
    test: ['CMD', ...checkCommand(settings, group).map((word) => word.replaceAll('$', '$$$$'))],
    interval: t.interval,
    timeout: t.timeout,
    retries: t.retries,
    start_period: t.startPeriod,
  }
}

/** The block as YAML; with `service`, nested under `services.<service>` ready to merge into a compose file. */
export function renderCompose(
  settings: GenSettings,
  options: { group?: Group; service?: string; comment?: string } = {},
): string {
  const healthcheck = composeHealthcheck(settings, options.group)
  const body = options.service ? { services: { [options.service]: { healthcheck } } } : { healthcheck }
  const doc = new Document(body)
  // Flow style keeps `test` on one line, the way compose files usually write it.
  const testPath = options.service ? ['services', options.service, 'healthcheck', 'test'] : ['healthcheck', 'test']
  const test = doc.getIn(testPath, true)
  if (isSeq(test)) test.flow = true
  const header = options.comment ? `${options.comment.replace(/^/gm, '# ')}\n` : ''
  return header + renderYaml(doc, options.service ? [options.service] : [])
}
