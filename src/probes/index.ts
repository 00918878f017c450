/**
 * Built-in probes. Each returns a probe for `health.add`, takes the app's own client or
 * pool (never a connection per check), and also accepts a URL (one short-lived connection
 * under a connect timeout). Drivers are optional peer dependencies, loaded when used.
 */

export { type AmqpChannelLike, type AmqpConnectionLike, type AmqpProbeOptions, amqp } from './amqp.js'
export { type DiskProbeOptions, disk } from './disk.js'
export { type DnsProbeOptions, type DnsRecordType, dns } from './dns.js'
export { type EventLoopProbe, type EventLoopProbeOptions, eventLoop } from './event-loop.js'
export { type FileProbeOptions, file } from './file.js'
export { type GrpcClientLike, type GrpcProbeOptions, grpc } from './grpc.js'
export { type HttpProbeOptions, http, type StatusRange } from './http.js'
export { type MemcachedProbeOptions, type MemjsClientLike, type MemjsServerLike, memcached } from './memcached.js'
export { type MemoryProbeOptions, memory } from './memory.js'
export { type KnexLike, type MigrationsProbeOptions, type MigrationsSource, migrations } from './migrations.js'
export { type MqttClientLike, type MqttProbeOptions, mqtt } from './mqtt.js'
export {
  type MysqlClientLike,
  type MysqlConnectionLike,
  type MysqlPoolLike,
  type MysqlProbeOptions,
  type MysqlPromiseConnectionLike,
  type MysqlPromisePoolLike,
  mysql,
} from './mysql.js'
export { type NatsConnectionLike, type NatsProbeOptions, nats } from './nats.js'
export {
  type PgClientLike,
  type PgPoolClientLike,
  type PgPoolLike,
  type PostgresClientLike,
  type PostgresJsSqlLike,
  type PostgresProbeOptions,
  postgres,
} from './postgres.js'
export {
  type IoRedisClientLike,
  type IoRedisClusterLike,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
  type RedisClientLike,
  type RedisProbeOptions,
  redis,
} from './redis.js'
export { type SqliteDatabaseLike, type SqliteProbeOptions, sqlite } from './sqlite.js'
export { type TcpProbeOptions, type TcpTarget, tcp } from './tcp.js'
