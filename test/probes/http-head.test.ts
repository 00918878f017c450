/**
 * An http:// check that judges only the status reads the answer's head off its own socket
 * (src/probes/http-head.ts); one that reads the body goes through node:http. Every canned
 * answer here, sent by a real TCP server, gets the same verdict both ways.
 */
import assert from 'node:assert/strict'
import { STATUS_CODES } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import { runProbe } from '../../src/core/run-probe.js'
import type { CheckResult } from '../../src/core/types.js'
import { http } from '../../src/probes/http.js'
import { COMMON_REASONS, reasonPhrase } from '../../src/probes/http-head.js'
import { garbageServer } from '../support/faults.js'
import { expectNoLeakedResources, repeat } from '../support/leaks.js'

/** A server answering every connection with `answer` once the request's head has arrived, then closing (or not). */
async function cannedServer(answer: string | Buffer, options: { close?: boolean; later?: string } = {}) {
  const sockets = new Set<Socket>()
  const requests: string[] = []
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      requests.push(head)
      socket.write(answer)
      if (options.later !== undefined) {
        const rest = options.later
        setTimeout(() => socket.destroyed || socket.write(rest), 50)
      }
      if (options.close !== false) socket.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/health?x=1`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

const closers: (() => Promise<void>)[] = []
after(async () => {
  for (const close of closers) await close()
})

/** The verdicts of the status-only check (own socket) and the body-reading one (node:http). */
function bothWays(answer: string | Buffer): Promise<{ head: CheckResult; node: CheckResult }> {
  return bothWaysAt(answer, (url) => url)
}

async function bothWaysAt(
  answer: string | Buffer,
  urlOf: (url: string) => string,
): Promise<{ head: CheckResult; node: CheckResult }> {
  const server = await cannedServer(answer)
  closers.push(server.close)
  const url = urlOf(server.url)
  const head = await runProbe(http(url), { timeoutMs: 2000 })
  // expectBody '' passes on any body: only node:http's verdict on the head differs.
  const node = await runProbe(http(url, { expectBody: '' }), { timeoutMs: 2000 })
  return { head, node }
}

describe('http probe: the status read off its own socket', () => {
  it('passes on 200 with the reason phrase, as node:http does', async () => {
    const { head, node } = await bothWays('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    assert.equal(head.status, 'pass', head.output)
    assert.equal(head.output, '200 OK')
    assert.equal(node.output, '200 OK')
  })

  it('skips interim 1xx answers (103 Early Hints) and judges the final one', async () => {
    const { head, node } = await bothWays(
      'HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n',
    )
    assert.equal(head.status, 'fail')
    assert.match(head.output ?? '', /answered 503 Service Unavailable, expected 200-399$/)
    assert.equal(node.status, 'fail')
    assert.match(node.output ?? '', /answered 503 Service Unavailable/)
  })

  it('names the status from the code when the server gives no reason phrase, and takes HTTP/1.0', async () => {
    const { head, node } = await bothWays('HTTP/1.0 204\r\n\r\n')
    assert.equal(head.status, 'pass', head.output)
    assert.equal(head.output, '204 No Content')
    assert.equal(node.output, '204 No Content')
  })

  it('takes a 101 Switching Protocols nobody asked for as the answer, and fails it at once both ways', async () => {
    const { head, node } = await bothWays(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    )
    for (const result of [head, node]) {
      assert.equal(result.status, 'fail')
      assert.match(result.output ?? '', /answered 101 Switching Protocols, expected 200-399$/)
      assert.ok(result.durationMs < 1500, `${result.durationMs} ms: it waited for the deadline`)
    }
  })

  it('fails on a head over 16 KB, as node:http does', async () => {
    const { head, node } = await bothWays(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`)
    assert.equal(head.status, 'fail')
    assert.match(head.output ?? '', /: not a valid HTTP response: its headers are over 16 KB$/)
    assert.equal(node.status, 'fail')
  })

  it('fails what node:http refuses in a head: bare LF line ends, a bad or repeated Content-Length, Content-Length beside Transfer-Encoding', async () => {
    for (const [answer, reason] of [
      ['HTTP/1.1 200 OK\nContent-Length: 0\n\n', /its status line does not end in CRLF$/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 0\n\n', /its header lines do not end in CRLF$/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', /it has two Content-Length headers$/],
      ['HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', /its Content-Length "abc" is not a number$/],
      [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n',
        /it has both Transfer-Encoding and Content-Length$/,
      ],
    ] as const) {
      const { head, node } = await bothWays(answer)
      assert.equal(head.status, 'fail', `${JSON.stringify(answer)}: ${head.output}`)
      assert.match(head.output ?? '', reason)
      assert.equal(node.status, 'fail', `node:http passed ${JSON.stringify(answer)}`)
    }
  })

  it('fails at once on a server that greets in another protocol and waits, as node:http does', async () => {
    const greeter = await garbageServer('220 smtp.example ESMTP ready\r\n')
    closers.push(greeter.close)
    const started = performance.now()
    const result = await runProbe(http(`http://${greeter.address}/`), { timeoutMs: 5000 })
    assert.equal(result.status, 'fail')
    assert.match(result.output ?? '', /: not a valid HTTP response: it began "220 smtp\.example ESMTP ready"$/)
    assert.ok(performance.now() - started < 4000, 'failed at the first bytes, not at the deadline')
  })

  it('passes a head that arrives in pieces, its blank line split, just under the limit', async () => {
    const head = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(16 * 1024 - 20)}`
    const server = await cannedServer(`${head}\r\n`, { close: false, later: '\r\n' })
    closers.push(server.close)
    const result = await runProbe(http(server.url), { timeoutMs: 2000 })
    assert.equal(result.status, 'pass', result.output)
  })

  it('never quotes part of a credential the server echoes', async () => {
    const password = 's3cretpassw0rd'
    const { head } = await bothWaysAt(`${'x'.repeat(34)}${password} and more\r\n\r\n`, (url) =>
      url.replace('http://', `http://a:${password}@`),
    )
    assert.equal(head.status, 'fail')
    assert.match(head.output ?? '', /not a valid HTTP response: it began "x{34}\*\*\*/)
    assert.doesNotMatch(head.output ?? '', /s3c/)
  })

  it('fails on a header line that is not one, as node:http does', async () => {
    const { head, node } = await bothWays('HTTP/1.1 200 OK\r\nNot A Header\r\n\r\n')
    assert.equal(head.status, 'fail')
    assert.match(head.output ?? '', /not a valid HTTP response: header line 1 is "Not A Header"$/)
    assert.equal(node.status, 'fail')
  })

  it('fails on garbage and quotes only its first 40 characters', async () => {
    const { head, node } = await bothWays(`SSH-2.0-OpenSSH_9.6 ${'x'.repeat(500)}\r\n\r\n`)
    assert.equal(head.status, 'fail')
    assert.match(head.output ?? '', /not a valid HTTP response: it began "SSH-2\.0-OpenSSH_9\.6 x{20}…"$/)
    assert.equal(node.status, 'fail')
  })

  it('fails when the server closes without answering, or in the middle of its head', async () => {
    const silent = await bothWays('')
    assert.equal(silent.head.status, 'fail')
    assert.match(
      silent.head.output ?? '',
      /: the server closed the connection without answering; if the port takes TLS, write https:\/\/$/,
    )
    assert.equal(silent.node.status, 'fail')
    const cut = await bothWays('HTTP/1.1 200 OK\r\nContent-Ty')
    assert.equal(cut.head.status, 'fail')
    assert.match(cut.head.output ?? '', /: the server closed the connection in the middle of its answer$/)
    assert.equal(cut.node.status, 'fail')
  })

  it('sends one request: path and query, Host with the port, probekit headers, Connection: close', async () => {
    const server = await cannedServer('HTTP/1.1 200 OK\r\n\r\n')
    closers.push(server.close)
    const result = await runProbe(http(server.url, { headers: { 'X-Probe': 'yes' } }), { timeoutMs: 2000 })
    assert.equal(result.status, 'pass', result.output)
    const [request] = server.requests
    const lines = (request as string).split('\r\n')
    assert.equal(lines[0], 'GET /health?x=1 HTTP/1.1')
    assert.ok(lines.includes(`Host: 127.0.0.1:${server.port}`), request)
    assert.ok(lines.includes('Connection: close'), request)
    assert.ok(lines.includes('user-agent: probekit'), request)
    assert.ok(lines.includes('X-Probe: yes'), request)
  })

  it('sends a Host header given in headers instead of the URL one, and URL credentials as Basic', async () => {
    const server = await cannedServer('HTTP/1.1 200 OK\r\n\r\n')
    closers.push(server.close)
    const url = server.url.replace('http://', 'http://probe:s3cret-pass@')
    const result = await runProbe(http(url, { method: 'HEAD', headers: { host: 'app.example' } }), {
      timeoutMs: 2000,
    })
    assert.equal(result.status, 'pass', result.output)
    const lines = (server.requests[0] as string).split('\r\n')
    assert.equal(lines[0], 'HEAD /health?x=1 HTTP/1.1')
    assert.deepEqual(
      lines.filter((l) => /^host:/i.test(l)),
      ['host: app.example'],
    )
    assert.ok(lines.includes(`authorization: Basic ${Buffer.from('probe:s3cret-pass').toString('base64')}`))
  })

  it("sends each header once when the caller gives a default in another case, and the caller's Connection", async () => {
    const server = await cannedServer('HTTP/1.1 200 OK\r\n\r\n')
    closers.push(server.close)
    const headers = { 'User-Agent': 'kube-probe/1.30', Accept: 'text/plain', Connection: 'keep-alive' }
    const result = await runProbe(http(server.url, { headers }), { timeoutMs: 2000 })
    assert.equal(result.status, 'pass', result.output)
    const lines = (server.requests[0] as string).split('\r\n')
    for (const name of ['user-agent', 'accept', 'connection']) {
      assert.equal(
        lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).length,
        1,
        `${name} in ${lines.join(' | ')}`,
      )
    }
    assert.ok(lines.includes('User-Agent: kube-probe/1.30') && lines.includes('Connection: keep-alive'))
  })

  it('follows the first of two Location headers, as node:http does', async () => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.once('data', (chunk) => {
        const path = chunk.toString('latin1').split(' ')[1]
        socket.end(
          path === '/first'
            ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFIRST'
            : path === '/second'
              ? 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'
              : 'HTTP/1.1 302 Found\r\nLocation: /first\r\nLocation: /second\r\nContent-Length: 0\r\n\r\n',
        )
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy()
          server.close(() => resolve())
        }),
    )
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
    const head = await runProbe(http(url, { followRedirects: 1 }), { timeoutMs: 2000 })
    const node = await runProbe(http(url, { followRedirects: 1, expectBody: 'FIRST' }), { timeoutMs: 2000 })
    assert.equal(head.status, 'pass', head.output)
    assert.equal(node.status, 'pass', node.output)
  })

  it('knows the reason phrases it names itself exactly as node:http does', () => {
    for (const [code, phrase] of Object.entries(COMMON_REASONS)) assert.equal(phrase, STATUS_CODES[code], code)
    assert.equal(reasonPhrase(418), STATUS_CODES[418])
  })

  it('refuses a header that cannot be sent when the probe is made, in one sentence', () => {
    assert.throws(
      () => http('http://127.0.0.1:1/', { headers: { 'X-Evil': 'a\r\nInjected: yes' } }),
      /^TypeError: http http:\/\/127\.0\.0\.1:1\/: header "X-Evil" holds a character a header may not \(a line break or a control character\)$/,
    )
    assert.throws(
      () => http('http://127.0.0.1:1/', { headers: { 'Bad Name': 'x' } }),
      /header name "Bad Name" is not a token/,
    )
  })

  it('fails a status-only check against a server that sends garbage at once, and leaves nothing behind', async () => {
    const garbage = await garbageServer()
    closers.push(garbage.close)
    await expectNoLeakedResources(async () => {
      await repeat(50, 10, async () => {
        const result = await runProbe(http(`http://${garbage.address}/`), { timeoutMs: 1000 })
        assert.equal(result.status, 'fail')
      })
    })
  })
})
