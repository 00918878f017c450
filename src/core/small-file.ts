/**
 * Reads the small files an operator names — a token file, a CA, a client certificate or
 * key — without ever waiting on one: a named pipe, a device or a socket is refused before
 * it is opened and again after (it is opened without blocking), and a file over the limit
 * is refused, not read into memory. `readFileSync` would wait for a FIFO's writer forever,
 * with the whole process, and read `/dev/zero` until memory ran out.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from 'node:fs'

/** The default limit: certificates, keys and token lists are kilobytes. */
export const SMALL_FILE_BYTES = 1024 * 1024

/** Windows has no O_NONBLOCK, and no named pipes among files. */
export const OPEN_WITHOUT_WAITING = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)

/** What a path that is not a regular file is (`a named pipe (FIFO)`, `a device`, …), or undefined for a file. */
export function notARegularFile(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined
  if (stats.isFIFO()) return 'a named pipe (FIFO)'
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device'
  if (stats.isSocket()) return 'a socket'
  if (stats.isDirectory()) return 'a directory'
  return 'not a regular file'
}

/** A file refused for what it is or its size; `code` is `ENOTREG` or `EFBIG`. */
export class SmallFileError extends Error {
  override name = 'SmallFileError'
  constructor(
    message: string,
    readonly code: 'ENOTREG' | 'EFBIG',
  ) {
    super(message)
  }
}

/**
 * The bytes of a regular file of at most `maxBytes`. Throws the open's own error (`ENOENT`,
 * `EACCES`) or a `SmallFileError`; `fileProblem` words either in a few words.
 */
export function readSmallFileSync(path: string, maxBytes = SMALL_FILE_BYTES): Buffer {
  refuse(statSync(path), maxBytes)
  const fd = openSync(path, OPEN_WITHOUT_WAITING)
  try {
    refuse(fstatSync(fd), maxBytes)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024)
      const read = readSync(fd, chunk, 0, chunk.length, null)
      if (read === 0) break
      total += read
      // The file grew since its fstat.
      if (total > maxBytes) throw tooLarge(maxBytes)
      chunks.push(chunk.subarray(0, read))
    }
    return Buffer.concat(chunks, total)
  } finally {
    closeSync(fd)
  }
}

/** `no such file`, `permission denied (EACCES)`, `a named pipe (FIFO), not a regular file`, `over 1 MB`, … */
export function fileProblem(error: unknown): string {
  if (error instanceof SmallFileError) return error.message
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`
  return code ?? (error instanceof Error ? error.message : String(error))
}

function refuse(stats: Stats, maxBytes: number): void {
  const what = notARegularFile(stats)
  if (what) throw new SmallFileError(`${what}, not a regular file`, 'ENOTREG')
  if (stats.size > maxBytes) throw tooLarge(maxBytes)
}

function tooLarge(maxBytes: number): SmallFileError {
  const size = maxBytes >= 1024 * 1024 ? `${maxBytes / 1024 / 1024} MB` : `${maxBytes / 1024} KB`
  return new SmallFileError(`over ${size}, too large for this file`, 'EFBIG')
}

/**
 * Why a file given as a CA certificate cannot be one, or undefined: Node's TLS skips what
 * is not PEM without a word, and the check then fails as "certificate not trusted", with a
 * hint to pass the CA that was passed. A DER file (binary) is named as such.
 */
export function caPemProblem(content: Buffer): string | undefined {
  if (content.includes('-----BEGIN CERTIFICATE-----')) return undefined
  if (content.length > 0 && content[0] === 0x30)
    return 'is DER (binary), not PEM; convert it with "openssl x509 -inform der -in FILE -out ca.pem"'
  return 'holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)'
}
