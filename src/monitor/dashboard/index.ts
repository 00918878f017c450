/**
 * The dashboard's files, served by the monitor itself: no CDN, no internet access needed.
 * They live beside this module in `assets/` (copied into dist by the build) and are read
 * once, on first use.
 */
import { readFileSync } from 'node:fs'

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

const cache = new Map<string, DashboardAsset>()

/** The dashboard file for a request path, or undefined when the path is not one of them. */
export function dashboardAsset(pathname: string): DashboardAsset | undefined {
  const entry = FILES[pathname]
  if (!entry) return undefined
  let asset = cache.get(entry.file)
  if (!asset) {
    const url = new URL(`./assets/${entry.file}`, import.meta.url)
    let body: Buffer
    try {
      body = readFileSync(url)
    } catch {
      throw new Error(
        `the dashboard file ${url.pathname} is missing; rebuild probekit (npm run build copies src/monitor/dashboard/assets)`,
      )
    }
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
