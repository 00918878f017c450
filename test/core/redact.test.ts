import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { reasonOf } from '../../src/core/errors.js'
import { addSecret, redact, redactCut, redactUrl, SecretSet } from '../../src/core/redact.js'
import { runProbe } from '../../src/core/run-probe.js'

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
    // The colon that ends a URL in a message is the message's, not the value's.
    [
      'HTTP GET http://h/echo?token=abc123: 500 Internal Server Error',
      'HTTP GET http://h/echo?token=***: 500 Internal Server Error',
    ],
    ['token=abc:def rest', 'token=*** rest'],
  ]
  for (const [input, expected] of cases) {
    it(`masks ${JSON.stringify(input)}`, () => assert.equal(redact(input), expected))
  }

  it('masks secrets registered by the app', () => {
    addSecret('correct-horse-battery')
    assert.equal(redact('auth failed with correct-horse-battery'), 'auth failed with ***')
  })
})

describe('redact: passwords holding @ and :', () => {
  const cases: [string, string][] = [
    ['redis://:p@ss:w0rd3@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
    ['postgres://app:p@ss@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['postgres://me@corp.example:pw@db/x', 'postgres://me@corp.example:***@db/x'],
    ['failed: amqp://u:a:b:c@broker/vh; retrying', 'failed: amqp://u:***@broker/vh; retrying'],
    ['two: redis://:one@a:1 and redis://:t@wo@b:2', 'two: redis://:***@a:1 and redis://:***@b:2'],
    ['https://ghp_0123456789abcdefABCD@github.com/x', 'https://***@github.com/x'],
    ['mail me@example.com about http://host/', 'mail me@example.com about http://host/'],
  ]
  for (const [input, expected] of cases) {
    it(`masks ${JSON.stringify(input)}`, () => assert.equal(redact(input), expected))
  }

  it('masks secrets echoed as JSON', () => {
    assert.equal(
      redact('{"password":"hunter2","authorization":"Bearer abc.def","host":"db"}'),
      '{"password":"***","authorization":"Bearer ***","host":"db"}',
    )
  })

  it('finishes at once on 100 KB hostile strings (no catastrophic backtracking)', () => {
    const hostile = [
      'a://'.repeat(25_000),
      `x://${':@'.repeat(50_000)}`,
      '@'.repeat(100_000),
      `redis://${'a'.repeat(100_000)}`,
      `password${' '.repeat(100_000)}`,
      'password= '.repeat(10_000),
      `authorization:${' '.repeat(100_000)}`,
      `${' '.repeat(100_000)}x\n`,
      `${'\n '.repeat(50_000)}x`,
      `${'a_'.repeat(50_000)}password`,
      'xpasswordpasswordpw'.repeat(5_000),
      `x://:${'1'.repeat(50_000)}:${'?'.repeat(50_000)}`,
      `x://u:${'?#'.repeat(50_000)}`,
      'redis://:Secr3tHostile@h '.repeat(4_000),
    ]
    const secrets = new SecretSet()
    secrets.addUrl('https://user:HostilePw1@h/')
    // A generous bound: the quadratic versions take minutes on these inputs.
    const started = performance.now()
    for (const text of hostile) {
      redact(text, secrets)
      redactCut(text, { start: true, end: true }, secrets)
      reasonOf(new Error(text), secrets)
    }
    const ms = performance.now() - started
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`)
  })
})

describe('redact: secrets that free text carries', () => {
  const cases: [string, string][] = [
    // A key word after `_` or glued to a prefix: query parameters and environment variables.
    ['https://api.example.com/v1?access_token=Secr3tTok&x=1', 'https://api.example.com/v1?access_token=***&x=1'],
    ['GET /api/v4/projects?private_token=glpat-Secr3t failed', 'GET /api/v4/projects?private_token=*** failed'],
    ['PGPASSWORD=Secr3tEnv psql -h db', 'PGPASSWORD=*** psql -h db'],
    ['env: DB_PASSWORD=Secr3tEnv DB_HOST=db', 'env: DB_PASSWORD=*** DB_HOST=db'],
    ['MYSQL_ROOT_PASSWORD: Secr3t, MYSQL_PWD=Secr3t2', 'MYSQL_ROOT_PASSWORD: ***, MYSQL_PWD=***'],
    ['aws_secret_access_key=wJalrXUtn secret_key=sk-1', 'aws_secret_access_key=*** secret_key=***'],
    ['{"client_secret":"cs-1","refresh_token":"rt-2"}', '{"client_secret":"***","refresh_token":"***"}'],
    ['connect failed postgres://db:5432/app pw=PgSecretPw9', 'connect failed postgres://db:5432/app pw=***'],
    // A userinfo password holding `#` or `?`: not a fragment or a query before the `@`.
    ['amqp://guest:Secr3t#frag@mq/vhost', 'amqp://guest:***@mq/vhost'],
    ['redis://default:Secr3t?x@cache:6379', 'redis://default:***@cache:6379'],
    ['redis://default:Se?cr#3t@cache:6379/0?name=probe#x', 'redis://default:***@cache:6379/0?name=probe#x'],
    // The userinfo password masked by value in the whole message, in the forms it travels in.
    ['redis://:Secr3t@h:6379 and again Secr3t', 'redis://:***@h:6379 and again ***'],
    ['AUTH Secr3t! refused by redis://:Secr3t!@h:6379', 'AUTH *** refused by redis://:***@h:6379'],
    ['postgres://app:Secr3t%40x@db/app: Secr3t@x rejected', 'postgres://app:***@db/app: *** rejected'],
    [
      'https://ghp_0123456789abcdefABCD@github.com/x said ghp_0123456789abcdefABCD',
      'https://***@github.com/x said ***',
    ],
  ]
  for (const [input, expected] of cases) {
    it(`masks ${JSON.stringify(input)}`, () => assert.equal(redact(input), expected))
  }

  const plain = [
    'rate limited: tokens: 5, max_tokens=10, token_count=3',
    'password authentication failed for user "app"',
    'passwords: 3 tried; bypass: true; compass=north; surpass: no',
    'PGHOST=db PGUSER=app PGPORT=5432 PGDATABASE=app',
    'redis key: users:42 is a hash; keys=10',
    'https://api.example.com:8443?mail=ops@example.com',
    'https://api.example.com?who=a:b@c',
    'mail me@example.com about http://host/ #ops',
    'postgres://app@db/app?sslmode=require',
  ]
  for (const text of plain) {
    it(`leaves ${JSON.stringify(text)} as it is`, () => assert.equal(redact(text), text))
  }

  it("keeps MySQL's (using password: YES) and (using password: NO), which say whether one was sent", () => {
    assert.equal(
      redact("Access denied for user 'app'@'10.0.0.7' (using password: YES)"),
      "Access denied for user 'app'@'10.0.0.7' (using password: YES)",
    )
    assert.equal(redact('(using password: NO)'), '(using password: NO)')
    // Anything else after "password:" is still masked, YES too when it is not that message's end.
    assert.equal(redact('password: YES-please'), 'password: ***')
    assert.equal(redact('password: hunter22)'), 'password: ***)')
  })

  it('keeps the user name that spells the password, in its URL', () => {
    assert.equal(redact('amqp://guest:guest@127.0.0.1:5672'), 'amqp://guest:***@127.0.0.1:5672')
  })

  it('masks a userinfo password by value before the reason is cut', () => {
    const text = `auth with Secr3tPw9 failed; ${'retrying, '.repeat(120)}redis://:Secr3tPw9@cache:6379`
    const reason = reasonOf(new Error(text))
    assert.ok(reason.length <= 1001, `${reason.length} characters`)
    assert.match(reason, /^auth with \*\*\* failed; retrying/)
    assert.doesNotMatch(reason, /Secr3t/)
  })
})

describe('redact before truncation', () => {
  it('masks a connection string at the end of a long error message', () => {
    const reason = reasonOf(new Error(`${'connect failed, '.repeat(62)}postgres://u:hunter2@db/x`))
    assert.ok(reason.length <= 1001, `${reason.length} characters`)
    assert.doesNotMatch(reason, /hunt/)
  })

  it('masks the part of a credential left at a cut (redactCut)', () => {
    assert.equal(redactCut('body {"db":"postgres://u:hunter', { end: true }), 'body …')
    const long = `${'y'.repeat(300)}postgres://u:hunter`
    assert.doesNotMatch(redactCut(long, { end: true }), /hunt/)
    const secrets = new SecretSet()
    secrets.add('two words secret')
    assert.doesNotMatch(redactCut('it said two words sec', { end: true }, secrets), /two words/)
    assert.equal(redactCut('ter2@db/x is down', { start: true }), '… is down')
  })
})

describe('redact: thrown values that are not Errors', () => {
  it('masks secret keys of a thrown plain object, at any depth and in any case', () => {
    const reason = reasonOf({
      password: 'hunter2',
      host: 'db',
      auth: { Token: 'tok-1', API_KEY: 'k-2', apiKey: 'k-3', pass: 'p-4' },
    })
    assert.doesNotMatch(reason, /hunter2|tok-1|k-2|k-3|p-4/)
    assert.match(reason, /"host":"db"/)
  })

  it('renders circular objects, bigints and symbols without throwing', () => {
    const loop: Record<string, unknown> = { secret: 's3cr3t!', n: 10n }
    loop.self = loop
    const reason = reasonOf(loop)
    assert.doesNotMatch(reason, /s3cr3t/)
    assert.match(reason, /Circular/)
    assert.equal(reasonOf(Symbol('odd')), 'Symbol(odd)')
    assert.equal(reasonOf(42), '42')
  })

  it('is what runProbe reports for a check that throws a plain object', async () => {
    const result = await runProbe(
      {
        name: 'db',
        check: () => {
          throw { password: 'hunter2', host: 'db' }
        },
      },
      { timeoutMs: 1000 },
    )
    assert.equal(result.status, 'fail')
    assert.doesNotMatch(result.output ?? '', /hunter2/)
    assert.match(result.output ?? '', /"host":"db"/)
  })
})

describe('SecretSet', () => {
  it("masks a URL's query credentials by name: an Azure SAS sig= and a jwt= too, not design= or page=", () => {
    const secrets = new SecretSet()
    secrets.addUrl(
      'https://acct.blob.core.windows.net/c/health?sv=2024-01-01&sig=SasSig%2Bvalue123&jwt=eyJhbGciOiJIUzI1&design=plainWord&page=20',
    )
    assert.equal(
      secrets.redact('echo SasSig+value123 SasSig%2Bvalue123 eyJhbGciOiJIUzI1 plainWord 20'),
      'echo *** *** *** plainWord 20',
    )
  })

  it('masks a URL password and what HTTP Basic makes of it', () => {
    const secrets = new SecretSet()
    secrets.addUrl('http://user:Pw%40rd77@host/')
    const basic = Buffer.from('user:Pw@rd77').toString('base64')
    assert.equal(secrets.redact(`echo ${basic} Pw@rd77 Pw%40rd77 user:Pw@rd77`), 'echo *** *** *** ***')
  })

  it('masks a password holding a raw slash in a URL that does not parse, and nothing more', () => {
    assert.equal(redactUrl('postgres://u:ab/cdPW99@/db?host=/nope'), 'postgres://u:***@/db?host=/nope')
    assert.equal(redactUrl('redis://:ab/cdPW99@127.0.0.1:1'), 'redis://:***@127.0.0.1:1')
    // URLs that parse, and one without a password, are as before.
    assert.equal(redactUrl('http://h:1/a@b'), 'http://h:1/a@b')
    assert.equal(redactUrl('postgres://u@/db'), 'postgres://u@/db')
  })

  it('masks a password holding a raw ? # or @ after its slash, wholly (a query or fragment does not end it)', () => {
    const cases: [string, string][] = [
      ['postgres://app:ab/c?d@db/app', 'postgres://app:***@db/app'],
      ['redis://:pa/ss?word@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'],
      ['mysql://root:a/b#c@db:3306/app', 'mysql://root:***@db:3306/app'],
      ['http://u:x/y?z@web:8080/readyz', 'http://u:***@web:8080/readyz'],
      ['redis://:p@ss:w/rd%?#@127.0.0.1:16379', 'redis://:***@127.0.0.1:16379'],
      // Parses, as password p at host ss: the rest of the password would show.
      ['redis://:p@ss/w?rd#1@localhost?socket=/run/r.sock', 'redis://:***@localhost?socket=/run/r.sock'],
      ['postgres://app:top@sec/ret@db/app', 'postgres://app:***@db/app'],
      ['amqp://guest:g/u#e@st@rabbit:5672/vhost', 'amqp://guest:***@rabbit:5672/vhost'],
      // A query holding an @ goes with it: more hidden than needed, never less.
      ['postgres://u:a/b?c@db/app?x=me@example.com', 'postgres://u:***@example.com'],
    ]
    for (const [url, shown] of cases) {
      assert.equal(redactUrl(url), shown, url)
      assert.doesNotMatch(redactUrl(url), /ab\/c|pa\/ss|a\/b|x\/y|p@ss|g\/u|ss\/w|sec\/ret/, url)
    }
    // A port that is out of range, with an @ later on: no password, nothing masked.
    assert.equal(redactUrl('http://web:99999/login?as=me@example.com'), 'http://web:99999/login?as=me@example.com')
  })

  it('masks a password holding a raw space or tab, in a URL that parses and in one that does not', () => {
    // A URL parser encodes the space; redact() reads the text as free text, where a space
    // ends a URL: amqp://app:pa ss@mq showed the password in the amqp probe's reasons and logs.
    const cases: [string, string][] = [
      ['amqp://app:pa ss-Secret@127.0.0.1:5672/jobs', 'amqp://app:***@127.0.0.1:5672/jobs'],
      ['amqp://app:pa\tss-Secret@mq', 'amqp://app:***@mq'],
      ['redis://user:pa ss-Secret@127.0.0.1:2/db', 'redis://user:***@127.0.0.1:2/db'],
      ['tcp://user:pa ss-Secret@127.0.0.1:2/x y', 'tcp://user:***@127.0.0.1:2/x y'],
    ]
    for (const [url, shown] of cases) assert.equal(redactUrl(url), shown, url)
    // A space elsewhere, with no password, masks nothing.
    assert.equal(redactUrl('http://web:8080/a b?q=c d'), 'http://web:8080/a b?q=c d')
    assert.equal(redactUrl('http://app@web:8080/a b'), 'http://app@web:8080/a b')
  })

  it('masks the password of a URL with user info before an empty host (libpq: postgres://u:pw@/db?host=/dir)', () => {
    const secrets = new SecretSet()
    secrets.addUrl('postgres://app:SockPw%2133@/app?host=/run/postgresql&password=QueryPw44')
    assert.equal(
      secrets.redact('said SockPw!33 and SockPw%2133 and QueryPw44 to app'),
      'said *** and *** and *** to app',
    )
  })

  it('masks a lone userinfo token where it is one (https, redis, nats), and leaves a database user name alone', () => {
    const secrets = new SecretSet()
    secrets.addUrl('https://ghp_token123456789@api.example/')
    secrets.addUrl('nats://natsTok99@127.0.0.1:4222')
    secrets.addUrl('postgres://postgres@127.0.0.1:5432/postgres')
    secrets.addUrl('mysql://app@db/app')
    assert.equal(
      secrets.redact('ghp_token123456789 natsTok99 postgres://postgres@127.0.0.1:5432/postgres app'),
      '*** *** postgres://postgres@127.0.0.1:5432/postgres app',
    )
  })

  it('masks secret headers with their credential part, and leaves other headers alone', () => {
    const secrets = new SecretSet()
    secrets.addHeaders({
      Authorization: 'Bearer tok.abc.def',
      'X-Api-Key': 'key-12345',
      Cookie: 'sid=cookie-999',
      Accept: 'application/json',
    })
    assert.equal(
      secrets.redact('got tok.abc.def, key-12345, sid=cookie-999 as application/json'),
      'got ***, ***, *** as application/json',
    )
  })

  it("keeps one monitor's secrets out of another's masking, and masks the process-wide ones in both", () => {
    const a = new SecretSet()
    const b = new SecretSet()
    a.add('only-in-a-1234')
    addSecret('everywhere-5678')
    assert.equal(a.redact('only-in-a-1234 everywhere-5678'), '*** ***')
    assert.equal(b.redact('only-in-a-1234 everywhere-5678'), 'only-in-a-1234 ***')
  })

  it('masks the longest secret where several start at the same place, among many sharing a prefix', () => {
    const secrets = new SecretSet()
    const jwt = (n: number) => `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI${n}.sig${n}`
    for (let n = 0; n < 500; n++) secrets.add(jwt(n))
    secrets.add('abcd')
    secrets.add('abcdefgh')
    assert.equal(secrets.redact(`a ${jwt(42)} b abcdefgh c abcdefg d`), 'a *** b *** c ***efg d')
    assert.equal(
      secrets.redact('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 alone'),
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 alone',
    )
  })

  it('ignores values too short to mask by value', () => {
    const secrets = new SecretSet()
    secrets.add('pw')
    assert.equal(secrets.redact('pwd is pw'), 'pwd is pw')
  })
})
