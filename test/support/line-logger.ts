/** A console-shaped logger that keeps each line as `level message`, for tests that read what was logged. */
export function lineLogger(): {
  lines: string[]
  logger: { info(m: string): void; warn(m: string): void; error(m: string): void }
} {
  const lines: string[] = []
  const logger = {
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
  }
  return { lines, logger }
}
