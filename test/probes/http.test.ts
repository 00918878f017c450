import assert from 'node:assert/strict'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import { http } from '../../src/probes/http.js'
import { blackholeServer, garbageServer } from '../support/faults.js'
import { freezeFully } from '../support/freeze.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'
import { freePort, ManagedProcess, refusedPort, waitFor } from '../support/server-process.js'
import { makeTestCertificates, type TestCertificates } from '../support/tls.js'

const run = (probe: ReturnType<typeof http>, timeoutMs = 1000) => runProbe(probe, { timeoutMs })

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)),
  )
}

const routes = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/ok') return res.end('all systems ok')
  if (url.pathname === '/fail') {
    res.statusCode = 500
    return res.end('boom')
  }
  if (url.pathname === '/teapot') {
    res.statusCode = 418
    return res.end('short and stout')
  }
  if (url.pathname === '/moved') {
    res.writeHead(302, { location: '/ok' })
    return res.end()
  }
  if (url.pathname === '/private') {
    const expected = `Basic ${Buffer.from('probe:s3cret-pass').toString('base64')}`
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic' })
      return res.end()
    }
    return res.end('private ok')
  }
  if (url.pathname === '/big') {
    res.write('x'.repeat(200_000))
    return res.end('needle')
  }
  if (url.pathname === '/to-other-origin') {
    res.writeHead(302, { location: `http://localhost:${req.socket.localPort}/no-credentials` })
    return res.end()
  }
  if (url.pathname === '/no-credentials') {
    res.statusCode = req.headers.authorization || req.headers.cookie ? 400 : 200
    return res.end(req.headers.authorization ? 'credentials leaked' : 'clean')
  }
  if (url.pathname === '/hang') return // never answers
  res.statusCode = 404
  res.end()
}

describe('http probe', () => {
  let server: Server
  let base: string
  let tlsServer: Server
  let untrustedServer: Server
  let certs: TestCertificates
  let tlsBase: string
  let untrustedBase: string

  before(async () => {
    certs = makeTestCertificates()
    server = createHttpServer(routes)
    base = `http://${await listen(server)}`
    tlsServer = createHttpsServer({ key: certs.key, cert: certs.cert }, routes)
    tlsBase = `https://${await listen(tlsServer)}`
    untrustedServer = createHttpsServer({ key: certs.untrustedKey, cert: certs.untrustedCert }, routes)
    untrustedBase = `https://${await listen(untrustedServer)}`
  })

  after(async () => {
    for (const s of [server, tlsServer, untrustedServer]) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
  })

  it('passes on 200 with the status as its message and the latency as observed value', async () => {
    const result = await run(http(`${base}/ok`))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.name, 'http')
    assert.equal(result.output, '200 OK')
    assert.equal(result.observedUnit, 'ms')
    assert.equal(typeof result.observedValue, 'number')
    assert.equal(result.componentType, 'component')
    assert.equal(result.componentId, `${base}/ok`)
  })

  it('passes on HEAD', async () => {
    const result = await run(http(`${base}/ok`, { method: 'HEAD' }))
    assert.equal(result.status, 'pass', result.output)
  })

  it('fails on 500 and says what it expected', async () => {
    const result = await run(http(`${base}/fail`, { name: 'api' }))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `${base}/fail answered 500 Internal Server Error, expected 200-399`)
  })

  it('counts a redirect as a pass without following it, like the kubelet', async () => {
    const result = await run(http(`${base}/moved`))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.output, '302 Found')
  })

  it('follows redirects when asked, and judges the final answer', async () => {
    const result = await run(http(`${base}/moved`, { followRedirects: 3, expectStatus: 200, expectBody: 'ok' }))
    assert.equal(result.status, 'pass', result.output)
    assert.equal(result.output, '200 OK')
  })

  it('never sends credentials to another origin when following a redirect', async () => {
    const options = {
      followRedirects: 1,
      expectStatus: 200,
      headers: { Authorization: 'Bearer t0ken-value', Cookie: 'a=b' },
    }
    const viaHeader = await run(http(`${base}/to-other-origin`, options))
    assert.equal(viaHeader.status, 'pass', viaHeader.output)
    const viaUrl = await run(
      http(`http://probe:s3cret-pass@${base.slice(7)}/to-other-origin`, { followRedirects: 1, expectStatus: 200 }),
    )
    assert.equal(viaUrl.status, 'pass', viaUrl.output)
  })

  it('checks an expected status given as a code, a list, a range or a family', async () => {
    assert.equal((await run(http(`${base}/teapot`, { expectStatus: 418 }))).status, 'pass')
    assert.equal((await run(http(`${base}/teapot`, { expectStatus: [200, 418] }))).status, 'pass')
    assert.equal((await run(http(`${base}/teapot`, { expectStatus: { min: 400, max: 499 } }))).status, 'pass')
    assert.equal((await run(http(`${base}/teapot`, { expectStatus: '4xx' }))).status, 'pass')
    const redirect = await run(http(`${base}/moved`, { expectStatus: '200-299' }))
    assert.equal(redirect.status, 'fail')
    assert.match(redirect.output ?? '', /answered 302 Found, expected 200-299/)
  })

  it('rejects a nonsense expectStatus when the probe is made, in one sentence', () => {
    assert.throws(() => http(`${base}/ok`, { expectStatus: 'sometimes' }), /expectStatus "sometimes" is not a status/)
    assert.throws(() => http('ftp://x/'), /must start with http:\/\/ or https:\/\//)
  })

  it('checks the body for a string or a pattern, reading a bounded amount', async () => {
    assert.equal((await run(http(`${base}/ok`, { expectBody: 'systems ok' }))).status, 'pass')
    assert.equal((await run(http(`${base}/ok`, { expectBody: /^all \w+ ok$/ }))).status, 'pass')
    const wrong = await run(http(`${base}/ok`, { expectBody: 'degraded' }))
    assert.equal(wrong.status, 'fail')
    assert.match(wrong.output ?? '', /the body did not contain "degraded"; it began "all systems ok"/)
    const bounded = await run(http(`${base}/big`, { expectBody: 'needle', maxBodyBytes: 1000 }))
    assert.equal(bounded.status, 'fail')
    assert.match(bounded.output ?? '', /in its first 1000 bytes/)
  })

  it('sends custom headers and URL credentials, and never shows the password', async () => {
    const withAuth = await run(http(`http://probe:s3cret-pass@${base.slice(7)}/private`))
    assert.equal(withAuth.status, 'pass', withAuth.output)
    const header = `Basic ${Buffer.from('probe:s3cret-pass').toString('base64')}`
    assert.equal((await run(http(`${base}/private`, { headers: { Authorization: header } }))).status, 'pass')
  })

  it('fails on wrong credentials with a reason naming authentication and no password', async () => {
    const result = await run(http(`http://probe:wrong-pass@${base.slice(7)}/private`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /401 Unauthorized \(authentication failed/)
    assert.doesNotMatch(JSON.stringify(result), /wrong-pass/)
  })

  it('trusts a private CA given with ca', async () => {
    const result = await run(http(`${tlsBase}/ok`, { ca: certs.ca }))
    assert.equal(result.status, 'pass', result.output)
  })

  it('fails on a certificate nobody vouches for, and says how to fix it', async () => {
    const result = await run(http(`${untrustedBase}/ok`, { ca: certs.ca }))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /TLS certificate not trusted .*ca option, or set insecure/)
    const noCa = await run(http(`${tlsBase}/ok`))
    assert.equal(noCa.status, 'fail')
    assert.match(noCa.output ?? '', /not trusted/)
  })

  it('fails on a certificate for other names by naming them, with no hint to trust a CA that is trusted', async () => {
    const other = createHttpsServer({ key: certs.otherKey, cert: certs.otherCert }, routes)
    try {
      const result = await run(http(`https://${await listen(other)}/ok`, { ca: certs.ca }))
      assert.equal(result.status, 'fail')
      assert.match(
        result.output ?? '',
        /: TLS certificate does not match the host name 127\.0\.0\.1: it is for DNS:other\.example \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
      )
    } finally {
      await new Promise((r) => other.close(r))
    }
  })

  it("says a plain-HTTP port does not speak TLS, in words, not OpenSSL's internals", async () => {
    const result = await run(http(`https${base.slice(4)}/ok`))
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /: the server does not speak TLS \((EPROTO|ERR_SSL_WRONG_VERSION_NUMBER)\)$/)
    assert.doesNotMatch(result.output ?? '', /SSL routines|deps\/openssl|error:0A/)
  })

  it('says an http:// URL at a TLS port may need https://, with and without reading the body', async () => {
    // A node:https server closes (or resets) a connection that sends plain HTTP: the reason
    // read "the server closed the connection without answering" or "connection reset by
    // the server (ECONNRESET)", with nothing about TLS.
    const plain = `http${tlsBase.slice(5)}/ok`
    for (const probe of [http(plain), http(plain, { expectBody: 'ok' })]) {
      const result = await run(probe)
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /; if the port takes TLS, write https:\/\/$/)
    }
  })

  it('passes with insecure against an untrusted certificate', async () => {
    const result = await run(http(`${untrustedBase}/ok`, { insecure: true }))
    assert.equal(result.status, 'pass', result.output)
  })

  it('times out against a server that never answers, and leaves nothing behind', async () => {
    const started = performance.now()
    const result = await run(http(`${base}/hang`), 300)
    assert.equal(result.status, 'fail')
    assert.equal(result.output, 'timed out after 300 ms')
    assert.ok(performance.now() - started < 400)
    await waitFor(
      'the server to see the connection closed',
      async () => {
        const count = await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))
        return count === 0
      },
      2000,
    )
  })

  it('fails with a clear reason when nothing listens', async () => {
    const port = await refusedPort()
    const result = await run(http(`http://127.0.0.1:${port}/`))
    assert.equal(result.status, 'fail')
    assert.equal(result.output, `http://127.0.0.1:${port}/: connection refused (ECONNREFUSED)`)
  })

  it('fails on garbage without crashing', async () => {
    const garbage = await garbageServer()
    try {
      const result = await run(http(`http://${garbage.address}/`))
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /not a valid HTTP response: it began "HTTP\/9\.9 garbage /)
    } finally {
      await garbage.close()
    }
  })

  it('fails at once on a status below 100, which no interim answer has (with and without reading the body)', async () => {
    const odd = await garbageServer('HTTP/1.1 099 Weird\r\nContent-Length: 0\r\n\r\n')
    try {
      for (const probe of [http(`http://${odd.address}/`), http(`http://${odd.address}/`, { expectBody: /x/ })]) {
        const result = await run(probe, 5000)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, `http://${odd.address}/: not a valid HTTP response (status 099)`)
      }
    } finally {
      await odd.close()
    }
  })

  it('fails by the connect timeout when the address never accepts', async () => {
    const hole = await blackholeServer()
    try {
      const started = performance.now()
      const result = await run(http(`http://${hole.address}/`, { connectTimeout: 300 }), 2000)
      assert.equal(result.status, 'fail')
      assert.equal(result.output, `http http://${hole.address}/: connect timed out after 300 ms`)
      assert.ok(performance.now() - started < 1000)
    } finally {
      await hole.close()
    }
  })

  describe('against a frozen server process', () => {
    let proc: ManagedProcess
    let url: string

    before(async () => {
      const port = await freePort()
      url = `http://127.0.0.1:${port}/`
      const source = `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`
      proc = new ManagedProcess('http server', process.execPath, ['-e', source], {
        ready: async () => (await run(http(url))).status === 'pass',
      })
      await proc.start()
    })

    after(async () => {
      await proc.stop()
    })

    it('fails within its deadline plus 100 ms while frozen, and passes again after SIGCONT', async () => {
      const probe = http(url)
      assert.equal((await run(probe)).status, 'pass')
      await freezeFully(proc)
      try {
        const started = performance.now()
        const result = await run(probe, 500)
        assert.equal(result.status, 'fail')
        assert.equal(result.output, 'timed out after 500 ms')
        assert.ok(performance.now() - started < 600)
      } finally {
        proc.thaw()
      }
      const again = await run(probe)
      assert.equal(again.status, 'pass', again.output)
    })

    it('leaves no sockets, timers or listeners after 200 checks timed out against it', async () => {
      const probe = http(url)
      await freezeFully(proc)
      try {
        await expectNoLeakedResources(() =>
          repeat(200, 10, async () => {
            const result = await run(probe, 50)
            assert.equal(result.status, 'fail')
          }),
        )
      } finally {
        proc.thaw()
      }
    })
  })
})
