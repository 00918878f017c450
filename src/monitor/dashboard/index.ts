/**
 * The dashboard's files, served by the monitor itself: no CDN, no internet access needed.
 * They live in `src/monitor/dashboard/assets/` (the build copies them to
 * `dist/monitor/dashboard/assets/`) and are read once, on first use.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface DashboardAsset {
  type: string
  body: Buffer
  headers: Record<string, string>
}

/**
 * The page may load only what the monitor serves: its own script, style and data. No
 * inline script or style runs, so text from a target can never execute even if some
 * future bug let it reach the page as markup.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
  '/favicon.ico': { file: 'favicon.svg', type: 'image/svg+xml' },
}

/** The request paths the dashboard's files are served at. */
export const DASHBOARD_PATHS: readonly string[] = Object.keys(FILES)

const cache = new Map<string, DashboardAsset>()
let assetDir: string | undefined

/**
 * Where the files are: beside this module (the compiled library, or the sources under
 * tsx), or — when this module is bundled into the CLI, where it no longer sits beside
 * them — under the package root found above it.
 */
function findAssetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, 'assets')]
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      candidates.push(join(dir, 'dist/monitor/dashboard/assets'), join(dir, 'src/monitor/dashboard/assets'))
      break
    }
    if (dirname(dir) === dir) break
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')))
  if (!found) {
    throw new Error(
      `the dashboard files are missing (looked in ${candidates.join(', ')}); rebuild probekit: npm run build copies them`,
    )
  }
  return found
}

/** The dashboard file for a request path, or undefined when the path is not one of them. */
export function dashboardAsset(pathname: string): DashboardAsset | undefined {
  const entry = FILES[pathname]
  if (!entry) return undefined
  let asset = cache.get(entry.file)
  if (!asset) {
    assetDir ??= findAssetDir()
    const body = readFileSync(join(assetDir, entry.file))
    asset = {
      type: entry.type,
      body,
      headers: {
        'content-security-policy': DASHBOARD_CSP,
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        // Revalidate every time: the files change with the monitor's version, not often.
        'cache-control': 'no-cache',
      },
    }
    cache.set(entry.file, asset)
  }
  return asset
}
