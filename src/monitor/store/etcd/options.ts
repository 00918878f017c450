/**
 * What an etcd store is given: the options of `EtcdStore.open()`, the `etcd://…` store
 * address they are parsed from, and the TLS files and password they name, read once.
 */

import type { Logger } from '../../../core/logger.js'
import { optionKeys } from '../../../core/options.js'
import { addSecret, redactUrl } from '../../../core/redact.js'
import { fileProblem, readSmallFileSync } from '../../../core/small-file.js'
import { StoreError } from '../errors.js'
import type { Retention } from '../retention.js'
import type { EtcdConnection } from './gateway.js'

export interface EtcdStoreOptions {
  /** Client URLs of etcd members, e.g. `http://10.0.0.1:2379`; tried in turn. */
  endpoints: string[]
  /** Key prefix, e.g. `/probekit` (a leading `/` is added, a trailing one dropped). */
  prefix: string
  /** This replica's id (unique in the fleet). Default `<hostname>-<pid>`. */
  replicaId?: string
  /** Read only: no lease, no registration, no writes (what `probekit inspect` opens). */
  readonly?: boolean
  /**
   * Join the other replicas only at `register()`, not at `open()`. Until then this replica
   * computes its share as if it were a member, but the others go on running those checks
   * (they do not know it yet) and nothing is written under its lease: what it saves waits.
   * A monitor that loads thousands of checks before it runs them registers once they are
   * loaded (`probekit monitor` does), so that none of them goes unchecked meanwhile.
   * Default false: `open()` registers.
   */
  registerLater?: boolean
  /** TTL of this replica's lease, seconds: how long a dead monitor's results outlive it. Default 15. */
  leaseTtlSeconds?: number
  /** Deadline of each request to etcd, ms. Default 2000. */
  requestTimeoutMs?: number
  /** Transitions kept in etcd for the whole fleet. Default 10,000 (oldest dropped). */
  maxTransitions?: number
  /** Transitions waiting to be written while etcd is away, at most (oldest dropped). Default 10,000. */
  maxPendingTransitions?: number
  /** Retention of the in-memory history and of transitions (`transitionsMs`). */
  retention?: Partial<Retention>
  /** Where "etcd unreachable" and "etcd back" are logged; `false` for silence. Default console. */
  logger?: Logger | false
  /**
   * PEM file of the CA that signed etcd's server certificate (`--etcd-ca`); default: the
   * CAs Node trusts. TLS needs `https://` endpoints (`etcd+tls://` in a store address).
   */
  caFile?: string
  /** PEM files of this monitor's client certificate and key, for etcd's `--client-cert-auth` (`--etcd-cert`, `--etcd-key`). */
  certFile?: string
  keyFile?: string
  /**
   * etcd user, for a cluster with authentication on (`--etcd-user`). The store logs in
   * (`/v3/auth/authenticate`), sends the token with every request, and logs in again
   * whenever etcd says the token expired.
   */
  user?: string
  /** The user's password; or `passwordFile` (`--etcd-password-file`: its first line). */
  password?: string
  passwordFile?: string
}

export const ETCD_STORE_OPTION_KEYS = optionKeys<EtcdStoreOptions>()({
  endpoints: true,
  prefix: true,
  replicaId: true,
  readonly: true,
  registerLater: true,
  leaseTtlSeconds: true,
  requestTimeoutMs: true,
  maxTransitions: true,
  maxPendingTransitions: true,
  retention: true,
  logger: true,
  caFile: true,
  certFile: true,
  keyFile: true,
  user: true,
  password: true,
  passwordFile: true,
})

/** What an `etcd://…` store address says: the members, the prefix, and optionally a user. */
export interface EtcdSpec {
  endpoints: string[]
  prefix: string
  /** From `etcd://USER:PASSWORD@…` (percent-decoded). */
  user?: string
  password?: string
}

const ETCD_SCHEME = /^(etcd|etcd\+tls|etcds):\/\//i

/**
 * A store address fit to print: the password of `etcd://USER:PASSWORD@…` masked, also when
 * it holds `@`, `:` or `/` (the userinfo ends at the last `@` before the members).
 */
export function shownEtcdSpec(spec: string): string {
  const scheme = ETCD_SCHEME.exec(spec.trim())
  if (!scheme) return redactUrl(spec)
  const { userinfo, rest } = splitUserinfo(spec.trim().slice(scheme[0].length))
  if (userinfo === undefined) return spec.trim()
  const colon = userinfo.indexOf(':')
  return `${scheme[0]}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@${rest}`
}

/** `HOST:PORT[,HOST:PORT…]` up to the prefix: what follows the userinfo. */
const MEMBER_LIST = /^[A-Za-z0-9._\-[\]:, ]*:\d+(\/|$)/

/**
 * Splits `USER:PASSWORD@MEMBERS/PREFIX` at the "@" that ends the userinfo: the last one
 * followed by a member list (a password may hold "@", ":" or "/"; a prefix may hold "@").
 * When no "@" is followed by a member list and the address does not start with one (a
 * typo in the members), the last "@" ends it: an error then masks too much, never too little.
 */
function splitUserinfo(text: string): { userinfo?: string; rest: string } {
  for (let at = text.lastIndexOf('@'); at > 0; at = text.lastIndexOf('@', at - 1)) {
    if (MEMBER_LIST.test(text.slice(at + 1))) return { userinfo: text.slice(0, at), rest: text.slice(at + 1) }
  }
  const at = text.lastIndexOf('@')
  if (at < 0 || MEMBER_LIST.test(text)) return { rest: text }
  return { userinfo: text.slice(0, at), rest: text.slice(at + 1) }
}

/**
 * Parses `etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX` (`etcd+tls://` or
 * `etcds://` for TLS); errors are one sentence naming the fix, with the password masked.
 */
export function parseEtcdSpec(spec: string): EtcdSpec {
  const value = spec.trim()
  const shown = JSON.stringify(shownEtcdSpec(value))
  const scheme = ETCD_SCHEME.exec(value)
  const example = 'use etcd://HOST:PORT[,HOST:PORT…]/PREFIX (etcd+tls:// for TLS), e.g. etcd://127.0.0.1:2379/probekit'
  if (!scheme) throw new StoreError(`--store ${shown} is not an etcd address; ${example}`)
  const tls = (scheme[1] as string).toLowerCase() !== 'etcd'
  const { userinfo, rest } = splitUserinfo(value.slice(scheme[0].length))
  let user: string | undefined
  let password: string | undefined
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':')
    try {
      user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon))
      if (colon >= 0) password = decodeURIComponent(userinfo.slice(colon + 1))
    } catch {
      throw new StoreError(
        `--store ${shown}: the user name or password is not valid percent-encoding; encode "%" as %25, or give the password with --etcd-password-file`,
      )
    }
    if (!user)
      throw new StoreError(`--store ${shown} names no user before its "@"; write etcd://USER:PASSWORD@HOST:PORT/PREFIX`)
  }
  const match = /^([^/?#]*)(\/[^?#]*)?$/.exec(rest)
  if (!match) throw new StoreError(`--store ${shown} is not an etcd address; ${example}`)
  const endpoints: string[] = []
  for (const part of (match[1] as string).split(',')) {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(part.trim())
    const port = hostPort ? Number(hostPort[2]) : 0
    if (!hostPort || port < 1 || port > 65535)
      throw new StoreError(
        `--store ${shown}: ${JSON.stringify(part)} is not HOST:PORT (etcd's client port is usually 2379); ${example}`,
      )
    endpoints.push(`${tls ? 'https' : 'http'}://${hostPort[1]}:${port}`)
  }
  let prefix: string
  try {
    prefix = normalizePrefix(decodeURIComponent(match[2] ?? ''))
  } catch {
    throw new StoreError(`--store ${shown}: the prefix is not valid percent-encoding; encode "%" as %25`)
  }
  if (prefix === '')
    throw new StoreError(
      `--store ${shown} names no key prefix; add one so probekit's keys stay apart, e.g. ${scheme[0]}${match[1]}/probekit`,
    )
  const parsed: EtcdSpec = { endpoints, prefix }
  if (user !== undefined) parsed.user = user
  if (password !== undefined) {
    parsed.password = password
    addSecret(password)
  }
  return parsed
}

export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '').replace(/^\/+/, '')
  return trimmed ? `/${trimmed}` : ''
}

/**
 * Reads the TLS files and the password the options name; every mistake is one sentence
 * naming the flag. The password is registered with `addSecret`, so no log line can show it.
 */
export function connectionOf(options: EtcdStoreOptions): EtcdConnection {
  const tls = options.endpoints.length > 0 && options.endpoints.every((e) => e.startsWith('https:'))
  const connection: EtcdConnection = {}
  const read = (file: string, flag: string, what: string): Buffer => {
    try {
      return readSmallFileSync(file)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new StoreError(
        code === 'ENOENT'
          ? `${flag} ${file} does not exist; give the PEM file of ${what}`
          : `cannot read ${flag} ${file} (${fileProblem(error)}); give a regular file the monitor's user can read`,
      )
    }
  }
  const tlsFiles: [keyof EtcdConnection, string | undefined, string, string][] = [
    ['ca', options.caFile, '--etcd-ca', "the CA that signed etcd's certificate"],
    ['cert', options.certFile, '--etcd-cert', "this monitor's client certificate"],
    ['key', options.keyFile, '--etcd-key', "the client certificate's private key"],
  ]
  for (const [field, file, flag, what] of tlsFiles) {
    if (file === undefined) continue
    if (!tls)
      throw new StoreError(`${flag} is for etcd over TLS; use --store etcd+tls://HOST:PORT/PREFIX (https:// endpoints)`)
    ;(connection as Record<string, Buffer>)[field] = read(file, flag, what)
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined))
    throw new StoreError('--etcd-cert and --etcd-key go together; give both, the certificate and its private key')
  let password = options.password
  if (options.passwordFile !== undefined) {
    if (password !== undefined)
      throw new StoreError('the etcd password is given twice (in --store and --etcd-password-file); give it once')
    const text = read(options.passwordFile, '--etcd-password-file', 'a file whose first line is the etcd password')
      .toString('utf8')
      .split(/\r?\n/)[0] as string
    if (text === '')
      throw new StoreError(
        `--etcd-password-file ${options.passwordFile} is empty; write the password on its first line`,
      )
    password = text
  }
  if (password !== undefined && options.user === undefined)
    throw new StoreError('an etcd password needs a user; give --etcd-user NAME (or etcd://USER:PASSWORD@… in --store)')
  if (options.user !== undefined) {
    if (!options.user.trim()) throw new StoreError('--etcd-user needs a name, e.g. --etcd-user probekit')
    if (password === undefined)
      throw new StoreError(
        `etcd user ${options.user} needs a password; give it with --etcd-password-file FILE (or etcd://USER:PASSWORD@… in --store)`,
      )
    connection.user = options.user
    connection.password = password
    addSecret(password)
  }
  return connection
}
