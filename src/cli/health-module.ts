import { existsSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Health } from '../health.js'
import { UsageError } from './usage-error.js'

/** The files `probekit probe` and `probekit gen` look for when no `--config` is given. */
export const DEFAULT_CONFIG_FILES = ['health.js', 'health.mjs'] as const

/**
 * Which module holds the app's `health`: `--config FILE`, else `$PROBEKIT_CONFIG`, else
 * `./health.js` or `./health.mjs`. A missing file is a usage error naming what was tried.
 */
export function resolveConfigPath(config: string | undefined, cwd = process.cwd()): string {
  const given = config ?? (process.env.PROBEKIT_CONFIG || undefined)
  if (given !== undefined) {
    const path = resolve(cwd, given)
    if (!existsSync(path)) {
      const from = config === undefined ? ' (from PROBEKIT_CONFIG)' : ''
      throw new UsageError(
        `the config module ${given}${from} does not exist; pass --config with the path of the module that exports your health`,
      )
    }
    return path
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, name)
    if (existsSync(path)) return path
  }
  throw new UsageError(
    `no config module: ./health.js and ./health.mjs do not exist in ${cwd}; pass --config FILE (or set PROBEKIT_CONFIG) naming the module that exports your health`,
  )
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx'])

/**
 * Imports the app's health module and returns its `health`: the named export `health`,
 * or the default export (an instance, or a function returning one). Every expected
 * failure (a TypeScript file Node cannot load, a module that throws, no `health`
 * export) ends in one sentence naming the file and the fix.
 */
export async function loadHealthModule(path: string): Promise<Health> {
  let mod: Record<string, unknown>
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code
    if (TYPESCRIPT.has(extname(path)) && (code === 'ERR_UNKNOWN_FILE_EXTENSION' || error instanceof SyntaxError)) {
      throw new Error(
        `${path} is TypeScript, which Node ${process.versions.node} cannot load by itself; compile it to JavaScript and pass the .js file, or run with tsx: NODE_OPTIONS="--import tsx" probekit …`,
      )
    }
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new Error(`the config module ${path} threw while loading: ${reason}`)
  }
  let candidate = mod.health ?? mod.default
  if (typeof candidate === 'function' && !isHealth(candidate)) {
    try {
      candidate = await (candidate as () => unknown)()
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
      throw new Error(`the default export of ${path} threw when called to create the health: ${reason}`)
    }
  }
  if (!isHealth(candidate)) {
    const exported = Object.keys(mod)
    const found = exported.length > 0 ? `it exports ${exported.join(', ')}` : 'it exports nothing'
    throw new Error(
      `${path} has no "health" export (${found}); add "export const health = createHealth(…)" or "export default health"`,
    )
  }
  return candidate
}

function isHealth(value: unknown): value is Health {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Health).run === 'function' &&
    typeof (value as Health).checkNames === 'function'
  )
}
