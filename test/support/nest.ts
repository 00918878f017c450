/**
 * Which NestJS the Nest adapter tests load. The repository's @nestjs/* are NestJS 12; the
 * NestJS 11 copies live in test/support/nest11 (a local package npm installs with its own
 * node_modules, since Nest 11's peers cannot sit beside Nest 12's). A test file that calls
 * useNest11() before importing a suite runs that suite's NestJS cases against Nest 11, and
 * only those: the suite's other cases do not load Nest and run in its own file.
 */
import { readFileSync } from 'node:fs'
import * as nodeModule from 'node:module'
import { resolve } from './nest11/resolve.js'

let nestCasesOnly = false

/** From here on, every import of @nestjs/* in this process loads NestJS 11. */
export function useNest11(): void {
  // registerHooks (Node 22.15 and later) runs the hook in this thread; register(), all that
  // Node 20 has, loads it in a hooks thread (through tsx's hooks) and is deprecated on Node 26.
  const { registerHooks } = nodeModule as { registerHooks?: (hooks: { resolve: nodeModule.ResolveHook }) => unknown }
  if (registerHooks) registerHooks({ resolve })
  else nodeModule.register('./nest11/resolve.ts', import.meta.url)
  nestCasesOnly = true
}

/** Whether a suite runs only its NestJS cases (under useNest11()). */
export function onlyNestCases(): boolean {
  return nestCasesOnly
}

/** The major version of the @nestjs/core that imports load in this process. */
export function nestMajor(): number {
  const manifest = new URL(import.meta.resolve('@nestjs/core/package.json'))
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }
  return Number(version.split('.')[0])
}
