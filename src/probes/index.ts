/**
 * Built-in probes. Each returns a probe for `health.add`, takes the app's own client or
 * pool (never a connection per check), and also accepts a URL (one short-lived connection
 * under a connect timeout). Drivers are optional peer dependencies, loaded when used.
 */

export {
  type MysqlClientLike,
  type MysqlConnectionLike,
  type MysqlPoolLike,
  type MysqlProbeOptions,
  type MysqlPromiseConnectionLike,
  type MysqlPromisePoolLike,
  mysql,
} from './mysql.js'
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
