/**
 * `probekit/grpc`: the standard `grpc.health.v1.Health` service on an app's own
 * `@grpc/grpc-js` server, answered from the same `Health` instance as the HTTP paths.
 * `@grpc/grpc-js` is an optional peer dependency: this module never imports it, the app
 * passes its own server.
 */

export { type CheckHealthOptions, checkHealth, GrpcCallError, type GrpcEndpoint } from './client.js'
export { GrpcCode, ServingStatus, type ServingStatusName } from './protocol.js'
export { addHealthService, type GrpcServerLike, type HealthService, type HealthServiceOptions } from './server.js'
