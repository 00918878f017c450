/**
 * The flags that say how to reach a secured etcd, shared by `probekit monitor` and
 * `probekit inspect`: TLS files and an etcd user. The store reads the files and explains
 * its own failures; this only checks that the flags go with an etcd store.
 */
import { resolve } from 'node:path'
import type { EtcdStoreOptions } from '../monitor/store/etcd.js'
import { isEtcdAddress } from '../monitor/store/index.js'
import { UsageError } from './usage-error.js'

export const ETCD_FLAG_OPTIONS = {
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'etcd-user': { type: 'string' },
  'etcd-password-file': { type: 'string' },
} as const

const HELP_LINES: [string, string[]][] = [
  ['--etcd-ca FILE', ["trust this CA (PEM) for etcd's certificate (etcd+tls:// only)"]],
  ['--etcd-cert FILE', ["client certificate (PEM) for etcd's --client-cert-auth"]],
  ['--etcd-key FILE', ["the client certificate's private key (PEM)"]],
  ['--etcd-user NAME', ['log in to etcd as this user (etcd with authentication on)']],
  [
    '--etcd-password-file FILE',
    ["the user's password: the first line of FILE", '(or etcd://USER:PASSWORD@… in --store)'],
  ],
]

/** The flags' lines for a command's help, descriptions starting at `column` as the command's own do. */
export function etcdFlagsHelp(column: number): string {
  const lines: string[] = []
  for (const [flag, text] of HELP_LINES) {
    const head = `  ${flag}`
    const pad = ' '.repeat(column)
    if (head.length < column) lines.push(`${head.padEnd(column)}${text[0]}`)
    else lines.push(head, `${pad}${text[0]}`)
    for (const more of text.slice(1)) lines.push(`${pad}${more}`)
  }
  return lines.join('\n')
}

type EtcdLogin = Pick<EtcdStoreOptions, 'caFile' | 'certFile' | 'keyFile' | 'user' | 'passwordFile'>

/** The etcd TLS and login options the flags give; a usage error when they go with no etcd store. */
export function etcdFlags(values: Record<string, unknown>, store: string | undefined): EtcdLogin {
  const options: EtcdLogin = {}
  const fields = {
    'etcd-ca': 'caFile',
    'etcd-cert': 'certFile',
    'etcd-key': 'keyFile',
    'etcd-user': 'user',
    'etcd-password-file': 'passwordFile',
  } as const
  for (const [flag, field] of Object.entries(fields) as [keyof typeof fields, (typeof fields)[keyof typeof fields]][]) {
    const value = values[flag]
    if (value === undefined) continue
    if (store === undefined || !isEtcdAddress(store))
      throw new UsageError(`--${flag} is for an etcd store; add --store etcd+tls://HOST:PORT/PREFIX (or etcd://…)`)
    const text = String(value).trim()
    if (!text) throw new UsageError(`--${flag} needs a value`)
    options[field] = field === 'user' ? text : resolve(text)
  }
  return options
}
