import type { Logger } from '../core/logger.js'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { fileToucher } from './touch.js'

export interface LastWorkFileOptions {
  /** The last-work file. Required: there is no default, the check is opt-in. */
  file: string
  /** Where a failure to write the file is reported. Default `console`; `false` for silence. */
  logger?: Logger | false
}

const LAST_WORK_OPTION_KEYS = optionKeys<LastWorkFileOptions>()({ file: true, logger: true })

/** A file whose modification time says when the worker last finished a job. */
export interface LastWorkFile {
  readonly file: string
  /** Records that a job was just completed. */
  touch(): void
}

/**
 * A last-work file, for health checks that want proof the worker really consumes work
 * (`probekit worker --last-work-file F --last-work-max-age 10m`), not only that its event
 * loop turns. Touch it when a job completes; `watchBullmqWorker` does this for you, and
 * also once when the worker becomes ready, so a freshly started worker has its full
 * max age before its first job is due.
 *
 * @example
 * import { createLastWorkFile } from 'probekit/worker'
 *
 * const lastWork = createLastWorkFile({ file: '/tmp/worker.last-work' })
 * for await (const message of subscription) {
 *   await handle(message)
 *   lastWork.touch()
 * }
 */
export function createLastWorkFile(options: LastWorkFileOptions): LastWorkFile {
  rejectUnknownKeys('createLastWorkFile', options, LAST_WORK_OPTION_KEYS)
  const { file } = options
  if (typeof file !== 'string' || file === '') {
    throw new TypeError('createLastWorkFile needs a file path, e.g. { file: "/tmp/worker.last-work" }')
  }
  return { file, touch: fileToucher(file, 'last-work', options.logger === undefined ? console : options.logger) }
}
