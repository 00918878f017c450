import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, request, type Server } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildCli, cli } from '../cli/run-cli.js'
import { canConnect, freePort, ManagedProcess, makeTempDir, requireBinary } from '../support/server-process.js'

const PATHS = '/_healthz/livez/,/_healthz/readyz/,/_healthz/'

/** A minimal nginx.conf around the generated locations, everything inside `dir`. */
function nginxConf(dir: string, port: number, locations: string): string {
  // As root, nginx would switch its workers to "nobody"; keep them as root so they can use the temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : ''
  return `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    server {
        listen 127.0.0.1:${port};
        listen 127.0.0.2:${port};
${locations.replace(/^(?=.)/gm, '        ')}
        location / { return 404; }
    }
}
`
}

/** GET from a chosen local address: 127.0.0.1 is "local", 127.0.0.2 stands for anyone else. */
function get(port: number, path: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/** curl as the issue describes it: the request leaves from another loopback address. */
function curlStatus(curl: string, url: string, iface: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(curl, ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', iface, url], (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    )
  })
}

describe('probekit gen nginx, served by a real nginx', () => {
  const nginx = requireBinary('nginx', ['/usr/sbin/nginx'])
  const curl = requireBinary('curl')
  let dir: string
  let port: number
  let server: ManagedProcess
  let backend: Server
  let backendStatus = 200

  before(async () => {
    buildCli()
    dir = makeTempDir('nginx')
    port = await freePort()
    backend = createServer((req, res) => {
      res.statusCode = req.url === '/_healthz/readyz/' ? backendStatus : 404
      res.end(res.statusCode === 200 ? 'ok' : 'backend not ready')
    })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
  })

  after(async () => {
    await server?.stop()
    await new Promise<void>((resolve) => backend.close(() => resolve()))
  })

  async function serve(args: string[]): Promise<string> {
    const run = await cli(['gen', 'nginx', '--paths', PATHS, ...args])
    assert.equal(run.code, 0, run.stdout)
    const conf = join(dir, 'nginx.conf')
    writeFileSync(conf, nginxConf(dir, port, run.stdout))
    // nginx -t must accept the generated blocks as they are.
    execFileSync(nginx, ['-t', '-q', '-p', dir, '-c', conf], { stdio: 'pipe' })
    await server?.stop()
    server = new ManagedProcess('nginx', nginx, ['-p', dir, '-c', conf], { ready: () => canConnect(port) })
    await server.start()
    return run.stdout
  }

  it('answers every health path with 200 "ok" for 127.0.0.1 and 403 for another address', async () => {
    const text = await serve([])
    assert.equal(text.match(/^location = /gm)?.length, 3)
    for (const path of PATHS.split(',')) {
      const local = await get(port, path, '127.0.0.1')
      assert.deepEqual(local, { status: 200, body: 'ok\n' }, path)
      const outside = await get(port, path, '127.0.0.2')
      assert.equal(outside.status, 403, `${path} from 127.0.0.2`)
      assert.equal(await curlStatus(curl, `http://127.0.0.1:${port}${path}`, '127.0.0.2'), '403')
    }
    assert.equal((await get(port, '/other', '127.0.0.1')).status, 404)
  })

  it('proxies readiness to the backend with --upstream, says why that can cascade, and still denies outsiders', async () => {
    const text = await serve(['--upstream', `http://127.0.0.1:${(backend.address() as { port: number }).port}`])
    assert.match(text, /^# Warning: this can cascade/m)
    assert.match(text, /proxy_pass http:\/\/127\.0\.0\.1:\d+\/_healthz\/readyz\/;/)
    backendStatus = 200
    assert.deepEqual(await get(port, '/_healthz/readyz/', '127.0.0.1'), { status: 200, body: 'ok' })
    backendStatus = 503
    const down = await get(port, '/_healthz/readyz/', '127.0.0.1')
    assert.equal(down.status, 503)
    assert.equal(down.body, 'backend not ready')
    // Liveness still answers locally: only readiness follows the backend.
    assert.equal((await get(port, '/_healthz/livez/', '127.0.0.1')).status, 200)
    assert.equal((await get(port, '/_healthz/readyz/', '127.0.0.2')).status, 403)
    assert.equal(await curlStatus(curl, `http://127.0.0.1:${port}/_healthz/readyz/`, '127.0.0.2'), '403')
  })
})
