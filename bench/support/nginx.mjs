/**
 * A private nginx serving HTTP targets for the monitor benchmarks: one static location
 * answering `ok` for any path, keep-alive, a worker per core, and an access log of
 * `<msec> <uri>` lines, buffered, from which a comparison reads when every target was hit
 * (drift, checks run twice) — the target server measures the monitor from outside and is
 * not the bottleneck (its capacity is measured with wrk before use).
 */
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { wrk } from './load.mjs'
import { canConnect, findBinary, freePort, makeTempDir, sleep, startProcess } from './proc.mjs'

/** The nginx binary, or undefined (Debian package nginx-light or nginx). */
export function nginxBinary() {
  return findBinary('nginx', ['/usr/sbin/nginx'])
}

/**
 * Starts nginx on a free loopback port. `workers` worker processes (default 2), each with
 * room for `connections` connections (default 20,000). Resolves to
 * `{ port, url(path), capacity(), resetLog(), readLog(), stop() }`.
 */
export async function startNginx({ workers = 2, connections = 20_000 } = {}) {
  const bin = nginxBinary()
  if (!bin) throw new Error('nginx is not installed (Debian package nginx-light or nginx)')
  const dir = makeTempDir('nginx')
  const port = await freePort()
  const accessLog = join(dir, 'access.log')
  const config = join(dir, 'nginx.conf')
  const asRoot = process.getuid?.() === 0
  writeFileSync(
    config,
    `${asRoot ? 'user root;\n' : ''}worker_processes ${workers};
worker_rlimit_nofile ${connections * 2 + 1024};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections ${connections}; multi_accept on; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format hits '$msec $uri';
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} backlog=4096 reuseport;
    location = /capacity { access_log off; default_type text/plain; return 200 'ok'; }
    location / { access_log ${accessLog} hits buffer=256k flush=1s; default_type text/plain; return 200 'ok'; }
  }
}
`,
  )
  writeFileSync(accessLog, '')
  const server = await startProcess(
    'nginx',
    bin,
    ['-p', dir, '-c', config, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    {
      ready: () => canConnect(port),
    },
  )
  return {
    port,
    dir,
    process: server,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    /** Requests per second nginx serves with keep-alive and with a new connection each (wrk, 3 s each). */
    async capacity({ connections: c = 64, seconds = 3 } = {}) {
      const keepAlive = await wrk(`http://127.0.0.1:${port}/capacity`, { connections: c, seconds, threads: 2 })
      const fresh = await wrk(`http://127.0.0.1:${port}/capacity`, {
        connections: c,
        seconds,
        threads: 2,
        headers: ['Connection: close'],
      })
      return { keepAlive: keepAlive.rps, newConnections: fresh.rps }
    },
    /** Empties the access log (nginx appends at its offset: truncation is safe with O_APPEND). */
    async resetLog() {
      await sleep(1200) // what is buffered now is flushed within a second
      truncateSync(accessLog, 0)
    },
    /** The hits logged since the last reset: `{ at: Float64Array (ms since epoch), uri: string[] }`. */
    async readLog() {
      await sleep(1200)
      const text = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : ''
      const lines = text.split('\n')
      const at = []
      const uri = []
      for (const line of lines) {
        const space = line.indexOf(' ')
        if (space < 0) continue
        at.push(Number(line.slice(0, space)) * 1000)
        uri.push(line.slice(space + 1))
      }
      return { at, uri }
    },
    stop: () => server.stop('SIGQUIT'),
  }
}
