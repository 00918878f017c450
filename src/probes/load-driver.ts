/**
 * Drivers are optional peer dependencies: a probe loads its driver only when it is used
 * with a URL, and a missing driver ends in one sentence naming the package to install.
 *
 * A driver is looked for where probekit is installed first, then in the project of the
 * working directory: a global `probekit check postgres://…` run next to an app that did
 * `npm install pg` finds that `pg`.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const cache = new Map<string, Promise<unknown>>()

function notFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
}

/** The driver's entry file as the working directory's project resolves it, if it has one. */
function resolveFromProject(pkg: string): string | undefined {
  try {
    return createRequire(join(process.cwd(), 'noop.js')).resolve(pkg)
  } catch (error) {
    if (notFound(error)) return undefined
    throw error
  }
}

async function load(pkg: string, forWhat: string): Promise<unknown> {
  try {
    return await import(pkg)
  } catch (error) {
    // Only "not installed here" falls through; a driver that is present but broken says why.
    if (!notFound(error) || !(error as Error).message.includes(`'${pkg}'`)) throw error
  }
  const file = resolveFromProject(pkg)
  if (file) return import(pathToFileURL(file).href)
  throw new Error(
    `${forWhat} needs the "${pkg}" package: install it in the project you run probekit from ("npm install ${pkg}"), or next to a global probekit ("npm install -g ${pkg}")`,
  )
}

export async function loadDriver<T>(pkg: string, forWhat: string): Promise<T> {
  let loading = cache.get(pkg)
  if (!loading) {
    loading = load(pkg, forWhat).catch((error: unknown) => {
      cache.delete(pkg)
      throw error
    })
    cache.set(pkg, loading)
  }
  return (await loading) as T
}
