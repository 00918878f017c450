/**
 * "Did you mean …?" for names a person typed: flags, option keys, manifest keys. One edit
 * distance for all of them, so `--timout` and `{ timout: 5 }` get the same help.
 */

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[] = new Array(rows * cols).fill(0)
  for (let i = 0; i < rows; i++) d[i * cols] = i
  for (let j = 0; j < cols; j++) d[j] = j
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1)
      d[i * cols + j] = best
    }
  }
  return d[rows * cols - 1]!
}

/** How many leading characters two strings share. */
function sharedPrefix(a: string, b: string): number {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

/**
 * The candidate closest to `input`, if it is close enough to be what was meant: at most
 * one edit for short names, two for longer ones, a third of the name at most. Of two
 * candidates as close, the one that begins as the input does: a name cut short (`nod`) is
 * a likelier slip than a wrong first letter (`pod`).
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const typed = input.toLowerCase()
  const limit = Math.max(1, Math.min(3, Math.floor(typed.length / 3)))
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  let bestPrefix = 0
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase()
    const distance = editDistance(typed, lower)
    if (distance > bestDistance) continue
    const prefix = sharedPrefix(typed, lower)
    if (distance < bestDistance || prefix > bestPrefix) {
      best = candidate
      bestDistance = distance
      bestPrefix = prefix
    }
  }
  return bestDistance <= limit ? best : undefined
}

/** `; did you mean "timeout"?` (with `format` shaping the name), or '' when nothing is close. */
export function didYouMean(
  input: string,
  candidates: Iterable<string>,
  format: (name: string) => string = (name) => JSON.stringify(name),
): string {
  const match = closest(input, candidates)
  return match === undefined ? '' : `; did you mean ${format(match)}?`
}
