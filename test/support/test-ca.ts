/**
 * A throwaway certificate authority for TLS tests, made with the openssl binary in a
 * temporary directory: a trusted CA, a server certificate for localhost and 127.0.0.1,
 * one for another host name, a client certificate, and a self-signed certificate no one
 * trusts.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { makeTempDir, requireBinary } from './server-process.js'

export interface TestCa {
  dir: string
  /** Paths of PEM files. */
  caCert: string
  serverCert: string
  serverKey: string
  /** A certificate for `other.example` only, signed by the CA (a wrong host name for 127.0.0.1). */
  otherCert: string
  otherKey: string
  clientCert: string
  clientKey: string
  /** Self-signed, trusted by nobody. */
  untrustedCert: string
  untrustedKey: string
  /** Days the server certificate is valid. */
  serverDays: number
  read(path: string): Buffer
}

export interface TestCaOptions {
  /** Days the server certificate is valid (default 30). */
  serverDays?: number
}

export function makeTestCa(options: TestCaOptions = {}): TestCa {
  const openssl = requireBinary('openssl')
  const dir = makeTempDir('ca')
  const run = (...args: string[]) =>
    execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  const p = (name: string) => join(dir, name)
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '365',
    '-subj',
    '/CN=probekit test CA',
  )
  const issue = (name: string, subject: string, san: string, days: number, extendedKeyUsage: string) => {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    writeFileSync(
      p(`${name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${extendedKeyUsage}\n${san ? `subjectAltName=${san}\n` : ''}`,
    )
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      String(days),
      '-extfile',
      `${name}.ext`,
    )
  }
  const serverDays = options.serverDays ?? 30
  issue('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', serverDays, 'serverAuth')
  issue('other', '/CN=other.example', 'DNS:other.example', 90, 'serverAuth')
  issue('client', '/CN=probekit monitor', '', 90, 'clientAuth')
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'untrusted.key',
    '-out',
    'untrusted.crt',
    '-days',
    '90',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  )
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    otherCert: p('other.crt'),
    otherKey: p('other.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    untrustedCert: p('untrusted.crt'),
    untrustedKey: p('untrusted.key'),
    serverDays,
    read: (path: string) => readFileSync(path),
  }
}

export interface IssueOptions {
  /** e.g. `/CN=localhost`, or `/O=probekit` for a certificate with no common name. */
  subject: string
  /** e.g. `DNS:localhost,IP:127.0.0.1`. */
  san?: string
  /** e.g. `serverAuth`, `clientAuth` or both. */
  extendedKeyUsage: string
  /** Valid from now for this many days (default 30), unless `notBefore`/`notAfter` say otherwise. */
  days?: number
  /** The certificate's own dates, e.g. one that expired yesterday or is valid only from next week. */
  notBefore?: Date
  notAfter?: Date
}

/**
 * Another certificate signed by the test CA, for servers that need more than the stock set
 * (etcd's gateway dials itself with its server certificate, which then needs clientAuth too).
 */
export function issueCertificate(ca: TestCa, name: string, options: IssueOptions): { cert: string; key: string } {
  const openssl = requireBinary('openssl')
  const run = (...args: string[]) =>
    execFileSync(openssl, args, { cwd: ca.dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', options.subject)
  writeFileSync(
    join(ca.dir, `${name}.ext`),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=${options.extendedKeyUsage}\n${options.san ? `subjectAltName=${options.san}\n` : ''}`,
  )
  if (options.notBefore || options.notAfter) {
    // `openssl x509 -req` (OpenSSL 3.0) always starts at now; `openssl ca` takes both dates.
    const notBefore = options.notBefore ?? new Date()
    const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.days ?? 30) * 86_400_000)
    writeFileSync(join(ca.dir, 'index.txt'), '', { flag: 'a' })
    writeFileSync(
      join(ca.dir, 'dated-ca.cnf'),
      [
        '[ca]',
        'default_ca = dated',
        '[dated]',
        'database = index.txt',
        'new_certs_dir = .',
        'rand_serial = yes',
        'default_md = sha256',
        'policy = anything',
        'unique_subject = no',
        'email_in_dn = no',
        '[anything]',
        'commonName = optional',
        'organizationName = optional',
        'organizationalUnitName = optional',
        '',
      ].join('\n'),
    )
    run(
      'ca',
      '-batch',
      '-notext',
      '-config',
      'dated-ca.cnf',
      '-cert',
      'ca.crt',
      '-keyfile',
      'ca.key',
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
      '-startdate',
      opensslTime(notBefore),
      '-enddate',
      opensslTime(notAfter),
    )
  } else {
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      String(options.days ?? 30),
      '-extfile',
      `${name}.ext`,
    )
  }
  return { cert: join(ca.dir, `${name}.crt`), key: join(ca.dir, `${name}.key`) }
}

/** `YYYYMMDDHHMMSSZ`, as `openssl ca -startdate` takes a time. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`
}
