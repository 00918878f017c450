/**
 * The NestJS app of the mount-first suite against NestJS 11, the previous major (the
 * repository's own @nestjs/* are 12, which mount-first.test.ts runs): every import of
 * @nestjs/*, the suite's and the adapter's, loads Nest 11 from test/support/nest11.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { nestMajor, useNest11 } from '../support/nest.js'

useNest11()
await import('./mount-first.test.js')

it('ran the NestJS app on NestJS 11', () => {
  assert.equal(nestMajor(), 11)
})
