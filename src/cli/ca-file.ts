/**
 * `--ca-file FILE`: a PEM CA certificate the command trusts, checked before anything
 * connects — `probekit monitor` for its HTTPS checks, `inspect --api` and `silence` for a
 * monitor API behind a TLS proxy with a private CA. Returns the file's absolute path and
 * its PEM; a missing, unreadable or non-PEM file is one usage error naming it.
 */
import { resolve } from 'node:path'
import { caPemProblem, fileProblem, readSmallFileSync } from '../core/small-file.js'
import { UsageError } from './usage-error.js'

export function readCaFileFlag(value: string, flag = '--ca-file'): { file: string; pem: string } {
  const file = resolve(value)
  let content: Buffer
  try {
    content = readSmallFileSync(file)
  } catch (error) {
    const problem = fileProblem(error)
    throw new UsageError(
      problem === 'no such file'
        ? `${flag} ${file} does not exist; give the path of a PEM CA certificate`
        : `${flag} ${file} cannot be read (${problem}); give the path of a PEM CA certificate`,
    )
  }
  const notPem = caPemProblem(content)
  if (notPem) throw new UsageError(`${flag} ${file} ${notPem}`)
  return { file, pem: content.toString('utf8') }
}
