/**
 * probekit for NestJS (Express or Fastify platform): a module that mounts the health paths
 * on the underlying HTTP server while Nest builds the application — before anything
 * `main.ts` adds with `app.use()`, and before Nest's own middleware, guards, interceptors
 * and routes.
 *
 * @example
 * import { Module } from '@nestjs/common'
 * import { NestFactory } from '@nestjs/core'
 * import { createHealth } from 'probekit'
 * import { ProbekitModule } from 'probekit/nest'
 *
 * export const health = createHealth()
 *
 * @Module({ imports: [ProbekitModule.forRoot(health)], controllers: [AppController] })
 * class AppModule {}
 *
 * const app = await NestFactory.create(AppModule)
 * app.use(session(...)) // runs after the probes: they are answered first
 * await app.listen(3000)
 */
import type { DynamicModule } from '@nestjs/common'
import { HttpAdapterHost } from '@nestjs/core'
import { Health } from '../../health.js'
import { createHandler } from '../handler.js'
import { type FastifyInstanceLike, healthHook } from './fastify.js'

/** The token under which the module mounts the health paths (resolved while Nest starts). */
export const PROBEKIT_MOUNT = Symbol('probekit mount')

interface HttpAdapterLike {
  getType(): string
  getInstance(): unknown
  use(...args: unknown[]): unknown
}

/**
 * `ProbekitModule.forRoot(health)` answers `/livez`, `/readyz`, `/healthz` (and the
 * instance's other paths) exactly as `health.handler()` does, and makes the `Health`
 * instance injectable everywhere (`constructor(private readonly health: Health) {}`).
 */
// biome-ignore lint/complexity/noStaticOnlyClass: Nest modules are classes and `forRoot` is Nest's convention.
export class ProbekitModule {
  static forRoot(health: Health): DynamicModule {
    if (!(health instanceof Health)) {
      throw new TypeError('ProbekitModule.forRoot(health): pass the instance createHealth() returned')
    }
    return {
      module: ProbekitModule,
      global: true,
      providers: [
        { provide: Health, useValue: health },
        {
          provide: PROBEKIT_MOUNT,
          inject: [HttpAdapterHost],
          // Providers are built inside NestFactory.create(), before it returns the app to
          // main.ts: mounting here puts the health paths ahead of every later app.use().
          useFactory: (host: HttpAdapterHost) => mount(health, host.httpAdapter as unknown as HttpAdapterLike),
        },
      ],
      exports: [Health],
    }
  }
}

function mount(health: Health, adapter: HttpAdapterLike | undefined): true {
  if (!adapter) {
    throw new Error(
      'ProbekitModule needs an HTTP application (NestFactory.create); for a standalone application context or a microservice, serve the probes with health.listen({ port: 9000 })',
    )
  }
  const type = adapter.getType()
  if (type === 'express') adapter.use(createHandler(health))
  else if (type === 'fastify') (adapter.getInstance() as FastifyInstanceLike).addHook('onRequest', healthHook(health))
  else {
    throw new Error(
      `ProbekitModule supports the express and fastify platforms, not "${type}"; serve the probes with health.listen({ port: 9000 }) instead`,
    )
  }
  return true
}

/** The same as `ProbekitModule.forRoot(health)`: the module to list in `imports`. */
export default function probekit(health: Health): DynamicModule {
  return ProbekitModule.forRoot(health)
}
