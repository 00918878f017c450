import { isIP } from 'node:net'
import type { EveryKey } from '../core/options.js'

/** TLS settings of the probes that speak TLS in URL mode (https, amqps, tls:// for NATS, mqtts). */
export interface TlsProbeOptions {
  /** Extra trusted CA certificates (PEM), e.g. a private CA. */
  ca?: string | Buffer | readonly (string | Buffer)[]
  /** Accept any server certificate (self-signed, wrong name). Default false. */
  insecure?: boolean
}

/** The keys of `TlsProbeOptions`, to spread into those of a probe's options. */
export const TLS_OPTIONS: EveryKey<TlsProbeOptions> = { ca: true, insecure: true }

/** The `tls.connect` options for these settings. */
export function tlsConnectOptions(options: TlsProbeOptions): {
  ca?: string | Buffer | (string | Buffer)[]
  rejectUnauthorized: boolean
} {
  const ca = options.ca
  return {
    ...(ca === undefined ? {} : { ca: Array.isArray(ca) ? [...ca] : (ca as string | Buffer) }),
    rejectUnauthorized: options.insecure !== true,
  }
}

/** SNI carries host names only: RFC 6066 forbids an IP address there (and Node warns about one). */
export function serverName(host: string): { servername?: string } {
  return isIP(host) ? {} : { servername: host }
}
