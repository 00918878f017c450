import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { closest, didYouMean, editDistance } from '../../src/core/suggest.js'

describe('did you mean', () => {
  it('counts edits, a swap of two neighbouring letters as one', () => {
    assert.equal(editDistance('timeout', 'timeout'), 0)
    assert.equal(editDistance('timout', 'timeout'), 1)
    assert.equal(editDistance('tiemout', 'timeout'), 1)
    assert.equal(editDistance('', 'abc'), 3)
    assert.equal(editDistance('kitten', 'sitting'), 3)
  })

  it('suggests the closest name when it is close enough, and nothing otherwise', () => {
    const options = ['timeout', 'cacheTtl', 'details', 'paths', 'extraPaths', 'logger']
    assert.equal(closest('timout', options), 'timeout')
    assert.equal(closest('Timeout', options), 'timeout')
    assert.equal(closest('detials', options), 'details')
    assert.equal(closest('colour', options), undefined)
    assert.equal(closest('x', ['a', 'bb']), 'a', 'one edit is close for a short name')
    assert.equal(closest('anything', []), undefined)
    assert.equal(
      didYouMean('--timout', ['--timeout', '--json'], (f) => f),
      '; did you mean --timeout?',
    )
    assert.equal(didYouMean('cache', ['critical']), '')
  })

  it('prefers, of two names as close, the one that begins as the input does', () => {
    // "nod" is one edit from both; a name cut short is the likelier slip, in either order.
    assert.equal(closest('nod', ['state', 'pod', 'node']), 'node')
    assert.equal(closest('nod', ['node', 'pod']), 'node')
    assert.equal(closest('pd', ['pod', 'node']), 'pod')
  })
})
