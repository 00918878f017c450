import { existsSync, readFileSync, statSync } from 'node:fs'
import { dirname, extname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
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
    const from = config === undefined ? ' (from PROBEKIT_CONFIG)' : ''
    if (!existsSync(path)) {
      throw new UsageError(
        `the config module ${given}${from} does not exist; pass --config with the path of the module that exports your health`,
      )
    }
    if (statSync(path).isDirectory()) {
      throw new UsageError(
        `the config module ${given}${from} is a directory; pass --config with the module file in it that exports your health (e.g. ${join(given, 'health.js')})`,
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
 * failure (a module Node cannot load as written, a module that throws, no `health`
 * export or one that is not a Health) ends in one sentence naming the file and the fix.
 */
export async function loadHealthModule(path: string): Promise<Health> {
  const mod = await importConfigModule(path)
  const named = mod.health !== undefined
  let candidate = named ? mod.health : mod.default
  if (candidate === undefined) {
    const exported = Object.keys(mod)
    const found = exported.length > 0 ? `it exports ${exported.join(', ')}` : 'it exports nothing'
    throw new Error(
      `${path} has no "health" export (${found}); add "export const health = createHealth(…)" or "export default health"`,
    )
  }
  const which = named ? 'the "health" export' : 'the default export'
  const fix = named ? '"export const health = createHealth(…)"' : '"export default health"'
  if (typeof candidate === 'function' && !isHealth(candidate)) {
    try {
      candidate = await (candidate as () => unknown)()
    } catch (error) {
      throw new Error(`${which} of ${path} threw when called to create the health: ${firstLine(error)}`)
    }
    if (!isHealth(candidate)) {
      throw new Error(
        `${which} of ${path} is a function that returned ${describeValue(candidate)}, not a Health; make it return the Health that createHealth(…) creates`,
      )
    }
  }
  if (!isHealth(candidate)) {
    throw new Error(
      `${which} of ${path} is ${describeValue(candidate)}, not a Health; export the Health that createHealth(…) returns, as in ${fix}`,
    )
  }
  return candidate
}

/**
 * Node meets a file written as an ES module that it loads as CommonJS twice: the
 * SyntaxError, which becomes one sentence here, and a process warning ("Failed to load the
 * ES module … set "type": "module"") that Node's own listener prints to stderr, past `-q`.
 */
const ES_MODULE_AS_COMMONJS_WARNING = /ES module[\s\S]*"type": "module"/

/**
 * `import()`s the config module with Node's process-warning listeners held back, so the
 * warning above is not printed (it is dropped, and explained by the error) while every
 * other warning goes on to them.
 */
async function importConfigModule(path: string): Promise<Record<string, unknown>> {
  const listeners = process.listeners('warning')
  process.removeAllListeners('warning')
  let esmAsCommonJs = false
  const sift = (warning: Error) => {
    if (ES_MODULE_AS_COMMONJS_WARNING.test(warning.message)) esmAsCommonJs = true
    else for (const listener of listeners) listener.call(process, warning)
  }
  process.on('warning', sift)
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>
  } catch (error) {
    // Node emits the warning before the import rejects (on every line from 20 to 26).
    throw new Error(loadFailure(path, error, esmAsCommonJs))
  } finally {
    process.off('warning', sift)
    for (const listener of listeners) process.on('warning', listener)
  }
}

/** The sentence for a config module (or a module it imports) that Node could not load. */
function loadFailure(path: string, error: unknown, esmAsCommonJs: boolean): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const at = sourceLocation(error)
  const file = at?.file ?? path
  const subject = file === path ? `the config module ${path}` : `${file} (imported by the config module ${path})`
  if (esmAsCommonJs && error instanceof SyntaxError) return esModuleLoadedAsCommonJs(subject, file)
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    // Node 22.18+ strips types but runs nothing TypeScript would have to compile.
    return `${subject} uses TypeScript that Node's type stripping cannot remove (${lineOf(at)}${firstLine(error)}); compile it to JavaScript, keep to erasable syntax (no enums, namespaces or parameter properties), or run with tsx: NODE_OPTIONS="--import tsx" probekit …`
  }
  if (code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
    return `${subject} is not valid TypeScript (${lineOf(at)}${firstLine(error)}); fix the syntax (tsc --noEmit lists every error)`
  }
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION' && TYPESCRIPT.has(extname(path))) {
    // Node 20, and Node 22 before 22.18 without --experimental-strip-types.
    return `${path} is TypeScript, which Node ${process.versions.node} cannot load by itself; compile it to JavaScript and pass the .js file, or run with tsx: NODE_OPTIONS="--import tsx" probekit …`
  }
  return `the config module ${path} threw while loading: ${firstLine(error)}`
}

/** What to rename, or which package.json to change, when Node loads an ES module as CommonJS. */
function esModuleLoadedAsCommonJs(subject: string, file: string): string {
  const ext = extname(file)
  const esmExt = TYPESCRIPT.has(ext) ? '.mts' : '.mjs'
  const written = `${subject} is written as an ES module (import/export) but Node loads it as CommonJS`
  if (ext === '.cjs' || ext === '.cts') return `${written}, as its ${ext} extension says; rename it to ${esmExt}`
  const pkg = nearestPackageJson(file)
  if (pkg === undefined) return `${written}; rename it to ${esmExt}, or add a package.json with "type": "module"`
  const says = pkg.type === undefined ? '' : ` (${pkg.path} says "type": ${JSON.stringify(pkg.type)})`
  return `${written}${says}; rename it to ${esmExt}, or set "type": "module" in ${pkg.path}`
}

/** The package.json that decides how Node loads `file`, and its "type". */
function nearestPackageJson(file: string): { path: string; type: string | undefined } | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const path = join(dir, 'package.json')
    if (existsSync(path)) {
      try {
        const { type } = JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }
        return { path, type: typeof type === 'string' ? type : undefined }
      } catch {
        return { path, type: undefined }
      }
    }
    if (dirname(dir) === dir) return undefined
  }
}

/**
 * Where a syntax error is, as Node puts it on the first line of the stack ("/app/x.js:1",
 * "file:///app/x.ts:2"): the file may be a module the config module imports.
 */
function sourceLocation(error: unknown): { file: string; line: number } | undefined {
  if (!(error instanceof SyntaxError)) return undefined
  const match = /^(.+):(\d+)$/.exec(error.stack?.split('\n', 1)[0] ?? '')
  if (!match) return undefined
  const [, where = '', line = ''] = match
  let file: string
  try {
    file = where.startsWith('file:') ? fileURLToPath(where) : where
  } catch {
    return undefined
  }
  return isAbsolute(file) ? { file, line: Number(line) } : undefined
}

function lineOf(at: { line: number } | undefined): string {
  return at === undefined ? '' : `line ${at.line}: `
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)
}

/** What a value that should have been a Health is, in a few words. */
function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'undefined') return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (typeof value !== 'object') return `a ${typeof value}`
  if (Array.isArray(value)) return 'an array'
  if (typeof (value as PromiseLike<unknown>).then === 'function') return 'a promise'
  if (typeof (value as Health).run === 'function') return 'an object with run() but no checkNames()'
  const kind = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
  return typeof kind === 'string' && kind !== '' && kind !== 'Object'
    ? `an object (${kind}) without run()`
    : 'an object without run()'
}

function isHealth(value: unknown): value is Health {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Health).run === 'function' &&
    typeof (value as Health).checkNames === 'function'
  )
}
