/**
 * A module resolution hook that points the project's imports of @nestjs/* — the tests' and
 * the adapter's (src/http/adapters/nest.ts) — at NestJS 11 in this folder's node_modules.
 * Imports from inside a package are left alone: Nest 11's own modules find each other there.
 * It answers synchronously, so it serves module.registerHooks() and module.register() alike.
 */
import type { ResolveHook } from 'node:module'

const ANCHOR = new URL('./package.json', import.meta.url).href

export const resolve: ResolveHook = (specifier, context, nextResolve) => {
  if (specifier.startsWith('@nestjs/') && !context.parentURL?.includes('/node_modules/')) {
    return nextResolve(specifier, { ...context, parentURL: ANCHOR })
  }
  return nextResolve(specifier, context)
}
