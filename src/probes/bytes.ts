/**
 * Sizes for the disk and memory probes: a number of bytes, or a string such as `'500MB'`,
 * `'1.5GiB'`, `'512Mi'`, or a percentage `'10%'`. Decimal units (kB, MB, GB, TB) are powers
 * of 1000, binary ones (KiB/Ki, MiB/Mi, GiB/Gi, TiB/Ti) powers of 1024, as in Kubernetes.
 */

export type Size = number | string

export type ParsedSize = { bytes: number; percent?: undefined } | { percent: number; bytes?: undefined }

const UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
  ti: 1024 ** 4,
  tib: 1024 ** 4,
}

/** Parses a size; `what` names the option in the one-sentence error (e.g. `disk: minFree`). */
export function parseSize(value: Size, what: string, allowPercent = true): ParsedSize {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return { bytes: value }
  } else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(%|[a-z]*)\s*$/i.exec(value)
    if (match) {
      const amount = Number(match[1])
      const unit = (match[2] ?? '').toLowerCase()
      if (unit === '%') {
        if (allowPercent && amount <= 100) return { percent: amount }
      } else {
        const factor = unit === '' ? 1 : UNITS[unit]
        if (factor !== undefined) return { bytes: Math.round(amount * factor) }
      }
    }
  }
  const forms = allowPercent
    ? "bytes, a size like '500MB' or '512Mi', or a percentage like '10%'"
    : "bytes or a size like '500MB' or '512Mi'"
  throw new TypeError(`${what} must be ${forms}; got ${JSON.stringify(value)}`)
}

/** `1.5 GB`, `512 MB`, `900 B`: decimal units, three significant digits. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  const text = unit === 0 ? String(Math.round(value)) : value.toPrecision(3).replace(/\.?0+$/, '')
  return `${text} ${units[unit]}`
}

/** `12.3%`, `0.01%`: a percentage to three significant digits. */
export function formatPercent(percent: number): string {
  return `${Number(percent.toPrecision(3))}%`
}
