/**
 * A throwaway certificate authority for TLS tests, made with the real openssl binary: a CA,
 * a server certificate it signed for 127.0.0.1 and localhost, and a self-signed one that
 * nothing trusts.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, requireBinary } from './server-process.js'

export interface TestCertificates {
  dir: string
  /** PEM of the test CA. */
  ca: string
  /** Server key and certificate signed by the test CA. */
  key: string
  cert: string
  /** A self-signed key and certificate no CA vouches for. */
  untrustedKey: string
  untrustedCert: string
}

export function makeTestCertificates(): TestCertificates {
  const openssl = requireBinary('openssl')
  const dir = makeTempDir('tls')
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: 'pipe' })
  const subj = (cn: string) => ['-subj', `/CN=${cn}`]
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    ...subj('probekit test CA'),
  )
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', ...subj('localhost'))
  const ext = join(dir, 'san.ext')
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${ext}`])
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    ext,
  )
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
    '-days',
    '2',
    ...subj('localhost'),
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  )
  const read = (file: string) => readFileSync(join(dir, file), 'utf8')
  return {
    dir,
    ca: read('ca.pem'),
    key: read('server.key'),
    cert: read('server.pem'),
    untrustedKey: read('self.key'),
    untrustedCert: read('self.pem'),
  }
}
