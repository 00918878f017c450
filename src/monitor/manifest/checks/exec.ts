/** An `exec` check: a command line (run with `sh -c`) or a list of arguments, with `cwd` and `env`. */
import { resolve } from 'node:path'
import type { CheckInput, ManifestReader } from '../reader.js'
import type { ExecCheckSpec } from '../types.js'

/** The keys of a exec check, besides the ones every check has. */
export const EXEC_KEYS = ['command', 'shell', 'cwd', 'env']

export function readExecCheck(r: ManifestReader, { raw, path, common }: CheckInput): ExecCheckSpec {
  const command = raw.command
  const shell = r.bool(raw, [...path, 'shell'])
  let argv: string[]
  if (typeof command === 'string' && command.trim()) argv = [command]
  else if (
    Array.isArray(command) &&
    command.length > 0 &&
    command.every((c) => typeof c === 'string' || typeof c === 'number')
  )
    argv = command.map(String)
  else r.fail([...path, 'command'], 'must be a command line (run with sh -c) or a list of arguments')
  const env = raw.env === undefined ? undefined : r.stringMap(raw, [...path, 'env'])
  const cwdValue = r.str(raw, [...path, 'cwd'], false)
  const spec: ExecCheckSpec = {
    ...common,
    kind: 'exec',
    command: argv,
    // A single string is a shell command line, as Consul's `script`; a list runs directly, as its `args`.
    shell: shell ?? typeof command === 'string',
    target: argv.join(' '),
  }
  if (cwdValue !== undefined) spec.cwd = resolve(r.dir, cwdValue)
  if (env) spec.env = env
  return spec
}
