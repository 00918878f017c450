/**
 * gRPC checks: `grpc.health.v1.Health/Check` for the check's service, over the same
 * HTTP/2 client as `probekit check grpc://`. `SERVING` is passing; any other serving
 * status, and every gRPC error, is critical. The outcome carries the gRPC status code and
 * the serving status for the blackbox exporter's `probe_grpc_*` metrics.
 */
import { isIP } from 'node:net'
import type { SecretSet } from '../../core/redact.js'
import { checkHealth, describeGrpcError, GrpcCallError, type GrpcEndpoint } from '../../grpc/client.js'
import { GrpcCode, ServingStatus, servingStatusName } from '../../grpc/protocol.js'
import type { GrpcCheckSpec } from '../manifest.js'
import {
  type ChainCertificate,
  DEFAULT_CERT_EXPIRY_WARNING_DAYS,
  fetchPeerCertificates,
  isCertificateDateError,
  peerCertificates,
  withCertificateVerdict,
} from './certificates.js'
import { type Checker, type CheckerResult, type Learnt, runAttempt, type Verdict } from './checker.js'
import { readTlsFiles } from './tls-files.js'

/** Builds the checker of one gRPC check. TLS files are read once, here. */
export function grpcChecker(spec: GrpcCheckSpec, secrets?: SecretSet): Checker {
  const endpoint: GrpcEndpoint = { host: spec.host, port: spec.port }
  // A TLS file that cannot be read fails every run with one sentence, as for HTTP checks.
  let fileError: string | undefined
  if (spec.tls) {
    endpoint.tls = true
    const { ca, cert, key, error } = readTlsFiles(spec.tls)
    fileError = error
    if (ca) endpoint.ca = ca
    if (cert) endpoint.cert = cert
    if (key) endpoint.key = key
    if (spec.tls.serverName) endpoint.servername = spec.tls.serverName
    if (spec.tls.insecure) endpoint.insecure = true
  }
  const warningDays = spec.certExpiryWarningDays ?? DEFAULT_CERT_EXPIRY_WARNING_DAYS
  /** One run; `seen` collects the certificates of its handshake (every call is a connection of its own). */
  const attempt = async (
    signal: AbortSignal,
    partial: Learnt,
    seen: { chain?: ChainCertificate[] },
  ): Promise<Verdict> => {
    if (fileError) throw new Error(fileError)
    let status: number
    try {
      status = await checkHealth(endpoint, spec.service, {
        signal,
        timeoutMs: spec.timeoutMs,
        onSecureConnect: (socket) => {
          seen.chain = peerCertificates(socket)
        },
      })
    } catch (error) {
      // Verification refused the certificate for its dates: one more handshake reads the
      // chain, so the output says which certificate and when.
      if (endpoint.tls && !signal.aborted && isCertificateDateError(error))
        seen.chain = await readChain(signal).catch(() => undefined)
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
  const readChain = (signal: AbortSignal): Promise<ChainCertificate[]> => {
    const servername = endpoint.servername ?? endpoint.host
    return fetchPeerCertificates(
      {
        host: endpoint.host,
        port: endpoint.port,
        ALPNProtocols: ['h2'],
        // SNI carries a host name, never an IP address (RFC 6066).
        ...(isIP(servername) ? {} : { servername }),
        ...(endpoint.ca !== undefined ? { ca: endpoint.ca as Buffer } : {}),
        ...(endpoint.cert !== undefined ? { cert: endpoint.cert } : {}),
        ...(endpoint.key !== undefined ? { key: endpoint.key } : {}),
      },
      signal,
    )
  }
  return {
    async run(signal?: AbortSignal): Promise<CheckerResult> {
      const seen: { chain?: ChainCertificate[] } = {}
      const result = await runAttempt(
        spec.id,
        spec.timeoutMs,
        signal,
        (deadline, partial) => attempt(deadline.signal, partial, seen),
        secrets,
      )
      return endpoint.tls ? withCertificateVerdict(result, seen.chain, warningDays) : result
    },
    async close() {},
  }
}
