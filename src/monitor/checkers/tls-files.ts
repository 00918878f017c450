/**
 * The PEM files of a check's `tls` settings, read once when its checker is built (see
 * core/small-file.ts: never waiting on a named pipe). A file that cannot be read is not
 * thrown: `error` says which and why, and the checker fails every run with it.
 */
import { caPemProblem, fileProblem, readSmallFileSync } from '../../core/small-file.js'
import type { TlsSettings } from '../manifest.js'

export interface TlsFiles {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  /** `cannot read the CA file /etc/ca.pem: no such file; fix the manifest's tls settings`, for the first that failed. */
  error?: string
}

export function readTlsFiles(tls: TlsSettings): TlsFiles {
  const files: TlsFiles = {}
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (!file) return undefined
    try {
      return readSmallFileSync(file)
    } catch (error) {
      files.error ??= `cannot read the ${what} ${file}: ${fileProblem(error)}; fix the manifest's tls settings`
      return undefined
    }
  }
  const ca = read(tls.caFile, 'CA file')
  const notPem = ca && caPemProblem(ca)
  if (notPem) files.error ??= `the CA file ${tls.caFile} ${notPem}; fix the manifest's tls settings`
  const cert = read(tls.certFile, 'client certificate')
  const key = read(tls.keyFile, 'client key')
  if (ca) files.ca = ca
  if (cert) files.cert = cert
  if (key) files.key = key
  return files
}
