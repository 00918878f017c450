/**
 * `probekit/monitor`: the fleet monitor as a library — manifests in, checks on a fixed
 * rate, states in an embedded store, and the HTTP API over them. `probekit monitor` is a
 * thin shell around these.
 *
 * @example
 * import { Monitor, openStore, startApi } from 'probekit/monitor'
 * const monitor = new Monitor({ store: openStore('sqlite:monitor.sqlite') })
 * await monitor.load(['/etc/probekit/pods'])
 * monitor.start()
 * const api = await startApi(monitor, { host: '127.0.0.1', port: 8008 })
 */

export {
  type AlertmanagerOptions,
  type AlertmanagerSender,
  type AlertSource,
  DEFAULT_ALERTNAME,
  type PostableAlert,
  startAlertmanager,
} from './alertmanager.js'
export { type Api, type ApiAuthOptions, type ApiOptions, startApi } from './api.js'
export { TokenError, TokenFile } from './auth.js'
export { type InspectCheck, type InspectDocument, toInspect } from './inspect.js'
export {
  type CheckSpec,
  loadManifests,
  type ManifestDefaults,
  ManifestError,
  type PodManifest,
  parseManifest,
  readManifests,
  type TlsSettings,
} from './manifest.js'
export { formatMonitorMetrics } from './metrics.js'
export { type CheckShare, Monitor, type MonitorOptions } from './monitor.js'
export type { PushKind } from './push.js'
export { ReplicaShare, rendezvousOwner } from './replicas.js'
export type { RunStats, SchedulerStats } from './scheduler.js'
export { EtcdStore, type EtcdStoreOptions, type EtcdStoreStatus, type ReplicaInfo } from './store/etcd.js'
export {
  MemoryStore,
  type OpenStoreOptions,
  openStore,
  openStoreAsync,
  type SqliteDriverName,
  SqliteMissingError,
  SqliteStore,
  StoreError,
} from './store/index.js'
export type { Thresholds } from './thresholds.js'
export {
  type CheckKey,
  type CheckKind,
  type CheckState,
  checkId,
  HEALTH_STATES,
  type HealthState,
  type HistoryPoint,
  type HistoryQuery,
  type HistorySample,
  type MonitorStore,
  type Transition,
} from './types.js'
export { startWebhooks, type WebhookNotification, type WebhookOptions, type Webhooks } from './webhooks.js'
