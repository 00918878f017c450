/**
 * The `signals` option of `gracefulShutdown` and `createReadinessFile`: an array of signal
 * names the process can catch. A string in its place was read letter by letter (process.on
 * listened for events named `S`, `I`, …), and a misspelt name was an event no signal
 * emits: either way the app was never told, and a rollout ended in SIGKILL.
 */
import { constants } from 'node:os'
import { describeArgument } from './options.js'
import { didYouMean } from './suggest.js'

/** What no handler can catch; Node throws when one is added. */
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])

/** `value` as a list of distinct signals, `fallback` when undefined; a TypeError naming `where` otherwise. */
export function signalList(
  where: string,
  value: unknown,
  fallback: readonly NodeJS.Signals[],
): readonly NodeJS.Signals[] {
  if (value === undefined) return fallback
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${where}: signals must be an array of signal names, e.g. ['SIGTERM', 'SIGINT'] ([] for none), got ${describeArgument(value)}`,
    )
  }
  const known = Object.keys(constants.signals)
  for (const signal of value) {
    if (typeof signal !== 'string' || !known.includes(signal)) {
      const meant = typeof signal === 'string' ? didYouMean(signal, known) : ''
      throw new TypeError(
        `${where}: signals: ${typeof signal === 'string' ? JSON.stringify(signal) : describeArgument(signal)} is not a signal name${meant}`,
      )
    }
    if (UNCATCHABLE.has(signal)) throw new TypeError(`${where}: signals: ${signal} cannot be caught; leave it out`)
  }
  return [...new Set(value as NodeJS.Signals[])]
}
