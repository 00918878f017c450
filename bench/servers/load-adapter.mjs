/**
 * Loads a framework adapter from the built package (`probekit/<framework>`), or from
 * dist/ when the subpath export is not declared yet. An adapter that is not built is
 * reported as unavailable rather than failing the whole suite.
 */
import { existsSync } from 'node:fs'

export async function loadAdapter(framework) {
  try {
    return pick(await import(`probekit/${framework}`), framework)
  } catch (error) {
    if (error?.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
  }
  const built = new URL(`../../dist/http/adapters/${framework}.js`, import.meta.url)
  if (!existsSync(built)) {
    throw Object.assign(
      new Error(`the ${framework} adapter is not built (no dist/http/adapters/${framework}.js after npm run build)`),
      { unavailable: true },
    )
  }
  return pick(await import(built.href), framework)
}

function pick(module, framework) {
  const adapter = module.default ?? module[framework]
  if (typeof adapter !== 'function') {
    throw Object.assign(new Error(`dist/http/adapters/${framework}.js has no default export`), { unavailable: true })
  }
  return adapter
}
