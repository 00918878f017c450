/**
 * Drivers are optional peer dependencies: a probe loads its driver only when it is used
 * with a URL, and a missing driver ends in one sentence naming the package to install.
 */
const cache = new Map<string, Promise<unknown>>()

export async function loadDriver<T>(pkg: string, forWhat: string): Promise<T> {
  let loading = cache.get(pkg)
  if (!loading) {
    loading = import(pkg).catch((error: NodeJS.ErrnoException) => {
      cache.delete(pkg)
      if (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'MODULE_NOT_FOUND') {
        throw new Error(`${forWhat} needs the "${pkg}" package: install it with "npm install ${pkg}"`)
      }
      throw error
    })
    cache.set(pkg, loading)
  }
  return (await loading) as T
}
