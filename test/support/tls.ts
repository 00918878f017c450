/**
 * The test CA's certificates as PEM strings, for tests that hand them to servers and
 * clients directly: a CA, a server certificate it signed for 127.0.0.1 and localhost
 * (valid two days, so expiry metrics are easy to check), and a self-signed one nobody
 * trusts. Made by `makeTestCa` (test/support/test-ca.ts) with the real openssl binary.
 */
import { makeTestCa } from './test-ca.js'

export interface TestCertificates {
  dir: string
  /** Path of the test CA's PEM file. */
  caFile: string
  /** PEM of the test CA. */
  ca: string
  /** Server key and certificate signed by the test CA. */
  key: string
  cert: string
  /** A self-signed key and certificate no CA vouches for. */
  untrustedKey: string
  untrustedCert: string
  /** Signed by the test CA for other.example only: a wrong host name for 127.0.0.1. */
  otherKey: string
  otherCert: string
}

export function makeTestCertificates(): TestCertificates {
  const ca = makeTestCa({ serverDays: 2 })
  const pem = (path: string) => ca.read(path).toString('utf8')
  return {
    dir: ca.dir,
    caFile: ca.caCert,
    ca: pem(ca.caCert),
    key: pem(ca.serverKey),
    cert: pem(ca.serverCert),
    untrustedKey: pem(ca.untrustedKey),
    untrustedCert: pem(ca.untrustedCert),
    otherKey: pem(ca.otherKey),
    otherCert: pem(ca.otherCert),
  }
}
