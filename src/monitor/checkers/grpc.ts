/**
 * gRPC checks: `grpc.health.v1.Health/Check` for the check's service, over the same
 * HTTP/2 client as `probekit check grpc://`. `SERVING` is passing; any other serving
 * status, and every gRPC error, is critical. The outcome carries the gRPC status code and
 * the serving status for the blackbox exporter's `probe_grpc_*` metrics.
 */
import { readFileSync } from 'node:fs'
import type { SecretSet } from '../../core/redact.js'
import { checkHealth, describeGrpcError, GrpcCallError, type GrpcEndpoint } from '../../grpc/client.js'
import { GrpcCode, ServingStatus, servingStatusName } from '../../grpc/protocol.js'
import type { GrpcCheckSpec } from '../manifest.js'
import { type Checker, type CheckerResult, type Learnt, runAttempt, type Verdict } from './checker.js'

/** Builds the checker of one gRPC check. TLS files are read once, here. */
export function grpcChecker(spec: GrpcCheckSpec, secrets?: SecretSet): Checker {
  const endpoint: GrpcEndpoint = { host: spec.host, port: spec.port }
  if (spec.tls) {
    endpoint.tls = true
    if (spec.tls.caFile) endpoint.ca = readFileSync(spec.tls.caFile)
    if (spec.tls.certFile) endpoint.cert = readFileSync(spec.tls.certFile)
    if (spec.tls.keyFile) endpoint.key = readFileSync(spec.tls.keyFile)
    if (spec.tls.serverName) endpoint.servername = spec.tls.serverName
    if (spec.tls.insecure) endpoint.insecure = true
  }
  const attempt = async (signal: AbortSignal, partial: Learnt): Promise<Verdict> => {
    let status: number
    try {
      status = await checkHealth(endpoint, spec.service, { signal, timeoutMs: spec.timeoutMs })
    } catch (error) {
      if (error instanceof GrpcCallError && !signal.aborted) {
        partial.grpcStatusCode = error.code
        throw new Error(`gRPC ${spec.target}: ${describeGrpcError(error, spec.service)}`)
      }
      throw error
    }
    const name = servingStatusName(status)
    return {
      status: status === ServingStatus.SERVING ? 'pass' : 'fail',
      output: `gRPC ${spec.target}: ${name}`,
      grpcStatusCode: GrpcCode.OK,
      grpcServingStatus: name,
    }
  }
  return {
    run(signal?: AbortSignal): Promise<CheckerResult> {
      return runAttempt(spec.id, spec.timeoutMs, signal, attempt, secrets)
    },
    async close() {},
  }
}
