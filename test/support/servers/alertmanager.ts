/**
 * A real Prometheus Alertmanager for tests (Debian's prometheus-alertmanager): one
 * loopback listener on a free port, clustering off, storage in a temp dir, and a config
 * whose only route sends every notification to a webhook receiver the test runs, grouped
 * by pod with short waits so a test sees a notification within a second or two.
 * Ready means `/-/ready` answers 200. `restart()` kills it and starts it again on the
 * same port with an empty storage, as a crashed Alertmanager comes back.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, ManagedProcess, makeTempDir, removeTempDir, requireBinary } from '../server-process.js'

export interface AlertmanagerOptions {
  /** Where Alertmanager POSTs its notifications (the test's webhook receiver). */
  webhookUrl: string
  /** Labels the route groups by. Default `['pod']`. */
  groupBy?: string[]
}

export interface AlertmanagerServer {
  port: number
  /** `http://127.0.0.1:PORT` */
  url: string
  process: ManagedProcess
  /** Killed (SIGKILL) and started again on the same port, its storage gone. */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** What `GET /api/v2/alerts` answers (the fields the tests read). */
export interface AlertmanagerAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  generatorURL?: string
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[] }
}

export async function startAlertmanager(options: AlertmanagerOptions): Promise<AlertmanagerServer> {
  const binary = requireBinary('prometheus-alertmanager', ['/usr/bin/prometheus-alertmanager'])
  const port = await freePort()
  const dir = makeTempDir('alertmanager')
  const storage = join(dir, 'data')
  const config = join(dir, 'alertmanager.yml')
  const groupBy = JSON.stringify(options.groupBy ?? ['pod'])
  writeFileSync(
    config,
    [
      'route:',
      '  receiver: test',
      `  group_by: ${groupBy}`,
      '  group_wait: 1s',
      '  group_interval: 1s',
      '  repeat_interval: 1h',
      'receivers:',
      '  - name: test',
      '    webhook_configs:',
      `      - url: ${JSON.stringify(options.webhookUrl)}`,
      '        send_resolved: true',
      '',
    ].join('\n'),
  )
  const url = `http://127.0.0.1:${port}`
  const proc = new ManagedProcess(
    `alertmanager :${port}`,
    binary,
    [
      `--config.file=${config}`,
      `--storage.path=${storage}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { cwd: dir, ready: () => answers(`${url}/-/ready`) },
  )
  mkdirSync(storage)
  await proc.start()
  return {
    port,
    url,
    process: proc,
    async restart() {
      await proc.kill()
      rmSync(storage, { recursive: true, force: true })
      mkdirSync(storage)
      await proc.start()
    },
    async stop() {
      await proc.stop()
      removeTempDir(dir)
    },
  }
}

/** The alerts Alertmanager holds now (active, silenced and inhibited alike). */
export async function alertsOf(server: AlertmanagerServer): Promise<AlertmanagerAlert[]> {
  const res = await fetch(`${server.url}/api/v2/alerts`)
  if (res.status !== 200) throw new Error(`alertmanager answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as AlertmanagerAlert[]
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}
