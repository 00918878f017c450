/**
 * What every probe factory does with a missing argument — `postgres(process.env.DATABASE_URL)`
 * on a machine where it is not set: one sentence naming the probe and what it expects,
 * never an error from inside the probe ("Cannot read properties of undefined").
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as probes from '../../src/probes/index.js'

/** Factories whose first argument is optional (options with defaults). */
const OPTIONAL_FIRST = new Set(['disk', 'memory'])

describe('probe factories given undefined or null', () => {
  const factories = Object.entries(probes).filter(([, value]) => typeof value === 'function') as [
    string,
    (arg: unknown) => unknown,
  ][]

  it('covers every factory the probes entry exports', () => {
    assert.ok(factories.length >= 15, factories.map(([name]) => name).join(', '))
  })

  it('postgres(undefined) says what it got, and the usual cause', () => {
    assert.throws(
      () => probes.postgres(undefined as never),
      /^TypeError: postgres\(client\): expected a pg Pool or Client, a postgres\.js sql instance, or a postgres:\/\/ URL, got undefined \(an environment variable that is not set\?\)$/,
    )
  })

  for (const [name, factory] of factories) {
    for (const value of [undefined, null]) {
      it(`${name}(${value}) ${OPTIONAL_FIRST.has(name) && value === undefined ? 'uses its defaults' : 'throws a TypeError naming the probe'}`, () => {
        if (OPTIONAL_FIRST.has(name) && value === undefined) {
          const probe = factory(value) as { name?: string; check?: unknown }
          assert.equal(probe.name, name)
          assert.equal(typeof probe.check, 'function')
          return
        }
        let thrown: unknown
        try {
          factory(value)
        } catch (error) {
          thrown = error
        }
        if (thrown === undefined && name === 'memory') return // memory(null): defaults, like memory()
        assert.ok(thrown instanceof TypeError, `${name}(${value}) threw ${String(thrown)}`)
        assert.match(thrown.message, new RegExp(`^${name}\\b`), thrown.message)
        assert.doesNotMatch(thrown.message, /Cannot read properties|is not a function|undefined \(reading/)
      })
    }
  }
})
