/**
 * The NestJS targets of the HTTP conformance suite against NestJS 11, the previous major
 * (the repository's own @nestjs/* are 12, which conformance.test.ts runs): every import of
 * @nestjs/*, the suite's and the adapter's, loads Nest 11 from test/support/nest11.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { nestMajor, useNest11 } from '../support/nest.js'

useNest11()
await import('./conformance.test.js')

it('ran the NestJS targets on NestJS 11', () => {
  assert.equal(nestMajor(), 11)
})
