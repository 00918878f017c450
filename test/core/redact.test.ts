import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { addSecret, redact } from '../../src/core/redact.js'

describe('redact', () => {
  const cases: [string, string][] = [
    ['postgres://app:s3cret@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['redis://:s3cret@cache:6379/0', 'redis://:***@cache:6379/0'],
    ['amqp://guest:guest@127.0.0.1:5672', 'amqp://guest:***@127.0.0.1:5672'],
    ['mongodb://u:p%40ss@h1,h2/db', 'mongodb://u:***@h1,h2/db'],
    ['host=db user=app password=s3cret dbname=app', 'host=db user=app password=*** dbname=app'],
    ['https://api/x?token=abc123&page=2', 'https://api/x?token=***&page=2'],
    ['Authorization: Bearer abc.def.ghi', 'Authorization: Bearer ***'],
    ['no secrets here: http://host/path', 'no secrets here: http://host/path'],
  ]
  for (const [input, expected] of cases) {
    it(`masks ${JSON.stringify(input)}`, () => assert.equal(redact(input), expected))
  }

  it('masks secrets registered by the app', () => {
    addSecret('correct-horse-battery')
    assert.equal(redact('auth failed with correct-horse-battery'), 'auth failed with ***')
  })
})
