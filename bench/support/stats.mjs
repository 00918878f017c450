/**
 * Small statistics for the report: medians with their spread, percentiles of samples.
 */

/** The p-th percentile (0–100) of `values` by nearest rank; NaN for an empty list. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

export function median(values) {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `{ median, min, max, runs }` of one figure measured in several runs. */
export function summarize(values) {
  const finite = values.filter((v) => Number.isFinite(v))
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    runs: values,
  }
}

/** Spread of a summary as a fraction of its median: (max - min) / median. */
export function spread(summary) {
  return summary.median ? (summary.max - summary.min) / summary.median : Number.NaN
}

/** Formats a number for a table: thousands separators, `digits` decimals. */
export function fmt(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–'
  return Number(value).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** `12,345 (11,900–12,600)`: a median with its range over the runs. */
export function fmtSummary(summary, digits = 0) {
  if (!summary || Number.isNaN(summary.median)) return '–'
  if (summary.runs.length < 2) return fmt(summary.median, digits)
  return `${fmt(summary.median, digits)} (${fmt(summary.min, digits)}–${fmt(summary.max, digits)})`
}

/** `0.97×`: a ratio of two medians. */
export function fmtRatio(ratio) {
  if (ratio === undefined || Number.isNaN(ratio) || !Number.isFinite(ratio)) return '–'
  return `${ratio.toFixed(2)}×`
}

/** `0.97× (0.95×–0.99×)`: the median ratio with its range over runs. */
export function fmtRatioSummary(summary) {
  if (!summary || Number.isNaN(summary.median)) return '–'
  if (summary.runs.length < 2) return fmtRatio(summary.median)
  return `${fmtRatio(summary.median)} (${fmtRatio(summary.min)}–${fmtRatio(summary.max)})`
}
