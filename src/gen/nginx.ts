/**
 * nginx `location` blocks that answer the health paths for local callers and deny everyone
 * else — the pattern of the Open Klant deployment docs — with an optional readiness check
 * proxied to the backend.
 */
import type { Group } from '../core/types.js'
import type { GenSettings } from './settings.js'

export interface NginxOptions {
  /**
   * Proxy the readiness path to the backend (e.g. `http://web:8000`), so nginx is ready
   * only while the backend is. A URL with a path is used as it is; without one, the
   * readiness path is appended.
   */
  upstream?: string
  comment?: string
}

const CASCADE_WARNING = `Readiness is proxied to the backend: nginx is ready only while the backend is.
Warning: this can cascade. When the backend fails, nginx leaves rotation too (and so
may everything that depends on nginx), although it could still serve static files.
Prefer the local answer unless nginx is useless without the backend.`

/** The location blocks, one per distinct health path. */
export function renderNginx(settings: GenSettings, options: NginxOptions = {}): string {
  const blocks: string[] = []
  if (options.comment) blocks.push(options.comment.replace(/^/gm, '# '))
  const seen = new Set<string>()
  let local = false
  for (const group of ['startup', 'live', 'ready'] as Group[]) {
    const path = settings.paths[group]
    if (seen.has(path) || settings.unserved?.includes(group)) continue
    seen.add(path)
    const proxied = options.upstream !== undefined && settings.paths.ready === path
    blocks.push(proxied ? proxyBlock(settings, path, options.upstream as string) : localBlock(path))
    local ||= !proxied
  }
  if (local) blocks.push(ANSWER_BLOCK)
  return `${blocks.join('\n\n')}\n`
}

const ANSWER = '@probekit_health_ok'

// `return` runs in nginx's rewrite phase, before allow/deny (access phase) is consulted, so
// `deny all; return 200` answers everyone. try_files runs after the access phase: the
// request reaches the answer in the named location only once allow/deny let it through.
function localBlock(path: string): string {
  return `location = ${path} {
    access_log off;
    # block outside traffic
    allow 127.0.0.1;
    allow ::1;
    deny all;
    # answered after allow/deny (a bare "return" would answer before them)
    try_files /.probekit-no-such-file ${ANSWER};
}`
}

const ANSWER_BLOCK = `# The local answer of the health paths above (a named location: not reachable by URL).
location ${ANSWER} {
    access_log off;
    default_type text/plain;
    return 200 "ok\\n";
}`

function proxyBlock(settings: GenSettings, path: string, upstream: string): string {
  const url = new URL(upstream)
  // The URL as parsed, not as typed: a backslash typed for a slash is a slash to both.
  const target = `${url.origin}${url.pathname === '/' ? path : url.pathname}`
  // The backend's readiness must answer within the orchestrator's timeout, not nginx's 60 s default.
  const seconds = settings.timeoutSeconds.ready
  return `${CASCADE_WARNING.replace(/^/gm, '# ')}
location = ${path} {
    access_log off;
    # block outside traffic
    allow 127.0.0.1;
    allow ::1;
    deny all;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $server_name;
    proxy_set_header X-Scheme $scheme;
    proxy_connect_timeout ${seconds}s;
    proxy_read_timeout ${seconds}s;
    proxy_pass ${target};
}`
}
