/**
 * The command line of every command, read one way: node:util's parseArgs for the
 * tokens, and probekit's own sentences for every mistake — an unknown flag with the flag
 * it resembles, a missing value, a value for a switch, a stray argument. `-h`/`--help`
 * prints the command's help; a switch marked `negatable` also takes `--no-` in front.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { durationMs } from '../core/duration.js'
import { didYouMean } from '../core/suggest.js'
import { writeStdout } from './stdout.js'
import { UsageError } from './usage-error.js'

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number]

/** One flag: a switch (`boolean`) or a flag with a value (`string`, repeatable with `multiple`). */
export type FlagSpec =
  | { type: 'boolean'; short?: string; negatable?: boolean; default?: boolean }
  | { type: 'string'; short?: string; multiple?: boolean }

export type FlagSpecs = Record<string, FlagSpec>

/** The parsed value of each flag: a switch is a boolean, a repeatable flag a list. */
export type FlagValues<F extends FlagSpecs> = {
  [K in keyof F]?: F[K] extends { type: 'boolean' } ? boolean : F[K] extends { multiple: true } ? string[] : string
}

export interface CommandLine<F extends FlagSpecs> {
  values: FlagValues<F>
  positionals: string[]
}

export interface CommandArgs<F extends FlagSpecs> {
  flags: F
  /** The command's help, printed for `-h` or `--help`. */
  help: string
  /**
   * Whether arguments other than flags are taken, or the sentence that says what to do
   * instead (`to pick a pod, write --pod …`); by default a stray argument is refused.
   */
  positionals?: boolean | ((arg: string) => string)
  /**
   * Flags of the tools this command replaces that probekit spells otherwise, each with the
   * sentence that says how (`--endpoint`: `the URL is an argument here: …`). Someone
   * migrating a probe types the old flag first; "unknown option" alone leaves them guessing.
   */
  otherTools?: Record<string, string>
  /** Where the help goes (stdout by default). */
  out?: { write(text: string): unknown }
}

/**
 * Parses `argv` for a command. Returns undefined when the help was asked for (and has
 * been printed); throws UsageError, in one sentence, for anything it cannot take.
 *
 * @example
 * const line = parseCommandArgs(argv, { flags: { timeout: { type: 'string' } }, help: HELP, positionals: true })
 * if (!line) return 0
 */
export function parseCommandArgs<F extends FlagSpecs>(
  argv: string[],
  spec: CommandArgs<F>,
): CommandLine<F> | undefined {
  const flags: FlagSpecs = { ...spec.flags, help: { type: 'boolean', short: 'h' } }
  const config: NonNullable<ParseArgsConfig['options']> = {}
  for (const [name, flag] of Object.entries(flags)) {
    config[name] = flag.type === 'string' && flag.multiple ? { type: 'string', multiple: true } : { type: flag.type }
    if (flag.short) (config[name] as { short?: string }).short = flag.short
  }
  // Not strict: parseArgs' own errors ("argument is ambiguous", "Unknown option") are
  // Node's words for Node's users; every token is checked below instead. A line without
  // a flag (`probekit check http://…`, the usual health check) is all positionals, and
  // skips parseArgs, whose two modules would load on every start.
  const tokens: Token[] = argv.some((arg) => arg.startsWith('-'))
    ? parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true }).tokens
    : argv.map((value, index) => ({ kind: 'positional', index, value }))

  const values: Record<string, string | boolean | string[]> = {}
  const positionals: string[] = []
  const known = knownFlags(flags)
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue
    if (token.kind === 'positional') {
      positionals.push(token.value)
      continue
    }
    const { name, rawName, value } = token
    const negated = name.startsWith('no-') ? ownFlag(flags, name.slice(3)) : undefined
    const flag = ownFlag(flags, name) ?? (negated?.type === 'boolean' && negated.negatable ? negated : undefined)
    if (!flag) {
      const otherTool =
        spec.otherTools && Object.hasOwn(spec.otherTools, rawName) ? spec.otherTools[rawName] : undefined
      throw new UsageError(
        `unknown option ${JSON.stringify(rawName)}${otherTool ? `; ${otherTool}` : flagSuggestion(rawName, known)}`,
      )
    }
    if (flag.type === 'boolean') {
      if (value !== undefined) throw new UsageError(`${rawName} takes no value; write ${rawName} alone`)
      if (name === 'help') {
        if (spec.out) spec.out.write(spec.help)
        else writeStdout(spec.help)
        return undefined
      }
      if (flag === negated) values[name.slice(3)] = false
      else values[name] = true
      continue
    }
    // `--timeout --json`: the next flag is not a value; a forgotten value is the likelier story.
    if (value === undefined || value === '' || (!token.inlineValue && isFlag(value, flags))) {
      throw new UsageError(`${rawName} needs a value`)
    }
    if (flag.multiple) ((values[name] ??= []) as string[]).push(value)
    else values[name] = value
  }
  for (const [name, flag] of Object.entries(spec.flags)) {
    if (flag.type === 'boolean' && flag.default !== undefined && values[name] === undefined) values[name] = flag.default
  }
  const accept = spec.positionals ?? false
  if (accept !== true && positionals.length > 0) {
    const arg = positionals[0] as string
    throw new UsageError(
      typeof accept === 'function'
        ? accept(arg)
        : `unexpected argument ${JSON.stringify(arg)}; this command takes only options`,
    )
  }
  return { values: values as FlagValues<F>, positionals }
}

/**
 * The flag of that name, if the command has one. Not `flags[name]`: `--toString` or
 * `--constructor=x` would find what every object inherits and be taken as a flag.
 */
function ownFlag(flags: FlagSpecs, name: string): FlagSpec | undefined {
  return Object.hasOwn(flags, name) ? flags[name] : undefined
}

/** Every spelling of every flag, for "did you mean". */
function knownFlags(flags: FlagSpecs): string[] {
  const names: string[] = []
  for (const [name, flag] of Object.entries(flags)) {
    names.push(`--${name}`)
    if (flag.type === 'boolean' && flag.negatable) names.push(`--no-${name}`)
  }
  return names
}

/**
 * `; did you mean --timeout?` for a slip of the keys, or for the same words with one more or
 * one fewer (`--ca-file` where the command says `--ca`, `--ca` where it says `--ca-file` and
 * `--etcd-ca`: the same thing is named per command); '' when nothing, or too much, is alike.
 */
function flagSuggestion(rawName: string, known: string[]): string {
  const typo = didYouMean(rawName, known, (f) => f)
  if (typo || !rawName.startsWith('--')) return typo
  const words = (flag: string) => flag.slice(2).toLowerCase().split('-').filter(Boolean)
  const typed = words(rawName)
  const within = (some: string[], all: string[]) => some.length > 0 && some.every((word) => all.includes(word))
  const alike = known.filter((flag) => {
    const other = words(flag)
    return flag !== '--help' && other.length !== typed.length && (within(typed, other) || within(other, typed))
  })
  return alike.length > 0 && alike.length <= 2 ? `; did you mean ${alike.join(' or ')}?` : ''
}

function isFlag(arg: string, flags: FlagSpecs): boolean {
  if (arg.startsWith('--')) {
    const name = arg.slice(2).split('=')[0] as string
    return ownFlag(flags, name) !== undefined || (name.startsWith('no-') && ownFlag(flags, name.slice(3)) !== undefined)
  }
  return /^-[A-Za-z]$/.test(arg)
}

/**
 * Parses a duration flag into milliseconds: a bare number is seconds (`--timeout 3`, as
 * in Docker and maykin-common), or a number with a unit: `500ms`, `2s`, `1.5m`, `1h`.
 */
export function parseDuration(value: string | undefined, flag: string): number {
  if (value === undefined || value === '') throw new UsageError(`${flag} needs a value such as 3, 500ms or 2s`)
  const ms = durationMs(value)
  if ((ms !== undefined && ms <= 0) || /^\s*-/.test(value)) {
    throw new UsageError(`${flag} must be a positive duration such as 2s or 500ms, got ${value}`)
  }
  if (ms === undefined)
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} is not a duration; use a number of seconds (3) or a value with a unit (500ms, 2s, 1m)`,
    )
  return ms
}
