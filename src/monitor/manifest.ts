/**
 * Pod manifests: what the monitor checks. p2 pod manifests work unchanged (`id`,
 * `status_port`, `status_http`, the `status` stanza; `launchables` and any other key are
 * ignored; signed ones too, see manifest/signed.ts); a manifest may also list explicit `checks`. Every mistake is reported with the
 * file, the line and the key, in one sentence that says how to fix it.
 */

import { closeSync, fstatSync, openSync, readdirSync, readSync, type Stats, statSync } from 'node:fs'
import { open, readdir, stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { Composer, type Document, isScalar, LineCounter, Parser } from 'yaml'
import { optionKeys, rejectUnknownKeys } from '../core/options.js'
import { globalSecretsVersion, redactUrl } from '../core/redact.js'
import { notARegularFile, OPEN_WITHOUT_WAITING } from '../core/small-file.js'
import { didYouMean } from '../core/suggest.js'
import { timeSlices } from '../core/time-slices.js'
import type { ManifestCache } from './manifest/cache.js'
import { EXEC_KEYS, readExecCheck } from './manifest/checks/exec.js'
import { GRPC_KEYS, readGrpcCheck } from './manifest/checks/grpc.js'
import { HTTP_KEYS, readHttpCheck } from './manifest/checks/http.js'
import { PROBE_KEYS, PROBE_SCHEMES, readProbeCheck } from './manifest/checks/probe.js'
import { PUSH_KEYS, readPushCheck } from './manifest/checks/push.js'
import { readTcpCheck, TCP_KEYS } from './manifest/checks/tcp.js'
import { type DocumentText, documentTexts } from './manifest/documents.js'
import {
  type CheckInput,
  formatHost,
  isHostName,
  isRecord,
  ManifestReader,
  NO_CHECKER,
  type Path,
  TLS_KEYS,
} from './manifest/reader.js'
import { unsignedManifest } from './manifest/signed.js'
import { type CheckSpec, type ManifestDefaults, ManifestError, type PodManifest } from './manifest/types.js'
import type { CheckKey, CheckKind } from './types.js'

export { ManifestCache } from './manifest/cache.js'
export { PROBE_SCHEMES } from './manifest/checks/probe.js'
export { DEFAULT_INTERVAL_MS, formatDuration } from './manifest/reader.js'
export {
  type CheckSpec,
  type ExecCheckSpec,
  type GrpcCheckSpec,
  type HttpCheckSpec,
  type ManifestDefaults,
  ManifestError,
  type PodManifest,
  type ProbeCheckSpec,
  type PushCheckSpec,
  type TcpCheckSpec,
  type TlsSettings,
} from './manifest/types.js'

const CHECK_TYPES = ['http', 'https', 'tcp', 'grpc', 'grpcs', 'exec', 'push', 'probe', ...PROBE_SCHEMES]

const COMMON_KEYS = [
  'name',
  'type',
  'interval',
  'timeout',
  'success_before_passing',
  'failures_before_warning',
  'failures_before_critical',
  'labels',
  'maintenance',
]
/** The keys each kind of check takes besides the common ones, and its reader (manifest/checks/). */
const KEYS_BY_KIND: Record<CheckKind, string[]> = {
  http: HTTP_KEYS,
  tcp: TCP_KEYS,
  grpc: GRPC_KEYS,
  probe: PROBE_KEYS,
  exec: EXEC_KEYS,
  push: PUSH_KEYS,
}
const CHECK_READERS: Record<CheckKind, (r: ManifestReader, input: CheckInput) => CheckSpec> = {
  http: readHttpCheck,
  tcp: readTcpCheck,
  grpc: readGrpcCheck,
  probe: readProbeCheck,
  exec: readExecCheck,
  push: readPushCheck,
}

/** The largest manifest file read, bytes: a pod's manifest is a few KB, a fleet's file a few MB. */
export const MAX_MANIFEST_BYTES = 10 * 1024 * 1024

/** How `readManifests` shares the event loop. */
export interface ReadOptions {
  /** Other work is late (a monitor's checks): parsing gives way while this holds (see `timeSlices`). */
  behind?: () => boolean
  /**
   * Ends the read between two pods when aborted (a monitor stopping while it loads): it
   * rejects with the signal's reason, having returned nothing.
   */
  signal?: AbortSignal
}

const READ_OPTION_KEYS = optionKeys<ReadOptions>()({ behind: true, signal: true })

const MANIFEST_DEFAULTS_KEYS = optionKeys<ManifestDefaults>()({ node: true, caFile: true })

/**
 * Reads manifests from files and directories (every `*.yaml`/`*.yml` inside, sorted).
 * A file may hold several YAML documents, one pod each. Only regular files are read, each
 * up to `MAX_MANIFEST_BYTES`: a named pipe, a device (a link to /dev/zero) or a file too
 * large is a `ManifestError` naming it. Files are read asynchronously, so a slow disk
 * holds up the load and not the process, and parsed a pod at a time with the event loop
 * free every few milliseconds; `loadManifests` is the synchronous form.
 *
 * @example
 * const pods = await readManifests(['/etc/probekit/pods'], { node: 'web-1' })
 * for (const pod of pods) console.log(pod.id, pod.checks.map((c) => c.target))
 */
export async function readManifests(
  paths: readonly string[],
  defaults: ManifestDefaults = {},
  options: ReadOptions = {},
): Promise<PodManifest[]> {
  rejectUnknownKeys('readManifests(paths, defaults)', defaults, MANIFEST_DEFAULTS_KEYS)
  rejectUnknownKeys('readManifests(paths, defaults, options)', options, READ_OPTION_KEYS)
  return podsOfInSlices(await readTexts(paths, options), defaults, options)
}

/**
 * `readManifests` for a process that reads the same manifests again and again (the
 * monitor, on every reload): a YAML document read by the last load through the same
 * `cache`, with the same text in the same file and the same defaults, is not parsed again
 * (see `ManifestCache`). The pods and the errors are those `readManifests` gives; the pods
 * are frozen, and the same objects as the last load's where their document is unchanged.
 */
export async function readManifestsCached(
  cache: ManifestCache,
  paths: readonly string[],
  defaults: ManifestDefaults = {},
  options: ReadOptions = {},
): Promise<PodManifest[]> {
  const texts = await readTexts(paths, options)
  const settings = readSettings(defaults)
  cache.begin(settings)
  let pods: PodManifest[]
  try {
    pods = await podsOfInSlices(texts, defaults, options, cache)
  } catch (error) {
    cache.discard()
    throw error
  }
  // A secret registered while the load let other work run: what was read before it is not kept.
  if (readSettings(defaults) === settings) cache.commit()
  else cache.discard()
  return pods
}

/**
 * Everything besides a document's text and file that what it says depends on: the
 * defaults, this host's name (the node of a pod that names none), and the secrets every
 * target is redacted with (`redactUrl`).
 */
function readSettings(defaults: ManifestDefaults): string {
  return JSON.stringify([defaults, hostname(), globalSecretsVersion()])
}

async function readTexts(paths: readonly string[], { signal }: ReadOptions): Promise<{ file: string; text: string }[]> {
  const files: string[] = []
  for (const path of paths) files.push(...(await listManifestFiles(path)))
  const texts: { file: string; text: string }[] = []
  for (const file of files) texts.push({ file, text: await readManifestFile(file) })
  signal?.throwIfAborted()
  return texts
}

/**
 * `readManifests`, synchronously (for scripts and tests): the same files, the same limits.
 *
 * @example
 * const pods = loadManifests(['/etc/probekit/pods'], { node: 'web-1' })
 * for (const pod of pods) console.log(pod.id, pod.checks.map((c) => c.target))
 */
export function loadManifests(paths: readonly string[], defaults: ManifestDefaults = {}): PodManifest[] {
  rejectUnknownKeys('loadManifests(paths, defaults)', defaults, MANIFEST_DEFAULTS_KEYS)
  const files: string[] = []
  for (const path of paths) files.push(...manifestFiles(path))
  return podsOf(
    files.map((file) => ({ file, text: readManifestFileSync(file) })),
    defaults,
  )
}

function podsOf(texts: { file: string; text: string }[], defaults: ManifestDefaults): PodManifest[] {
  const pods = new PodList()
  for (const { file, text } of texts) for (const pod of podsIn(text, file, defaults)) pods.add(pod, file)
  return pods.list
}

/**
 * `podsOf`, letting the event loop run every `PARSE_SLICE_MS` of parsing (between two pods):
 * a monitor reloading a large fleet (SIGHUP, a changed file) keeps its checks on schedule
 * and its API answering meanwhile, and gives way longer while `behind()` says they are late.
 */
async function podsOfInSlices(
  texts: { file: string; text: string }[],
  defaults: ManifestDefaults,
  { behind, signal }: ReadOptions,
  cache?: ManifestCache,
): Promise<PodManifest[]> {
  const pods = new PodList()
  const pause = timeSlices(PARSE_SLICE_MS, behind)
  for (const { file, text } of texts) {
    for (const pod of cache ? cachedPodsIn(text, file, defaults, cache) : podsIn(text, file, defaults)) {
      pods.add(pod, file)
      await pause()
      signal?.throwIfAborted()
    }
  }
  return pods.list
}

/** The pods of every file, each pod (node and id) declared once. */
class PodList {
  readonly list: PodManifest[] = []
  private readonly seen = new Map<string, string>()

  add(pod: PodManifest, file: string): void {
    const key = `${pod.node}/${pod.id}`
    const other = this.seen.get(key)
    if (other)
      throw new ManifestError(
        file,
        undefined,
        'id',
        `pod "${pod.id}" on node "${pod.node}" is also declared in ${other}; give each pod one manifest`,
      )
    this.seen.set(key, file)
    this.list.push(pod)
  }
}

const noSuchPath = (path: string) =>
  new ManifestError(
    path,
    undefined,
    undefined,
    'no such file or directory; pass a manifest file or a directory of them',
  )

/** The manifest files a path names: the file itself, or the YAML files under a directory. */
export function manifestFiles(path: string): string[] {
  let stats: Stats
  try {
    stats = statSync(path)
  } catch {
    throw noSuchPath(path)
  }
  if (!stats.isDirectory()) return [resolve(path)]
  const out: string[] = []
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue
    const full = join(path, entry.name)
    if (entry.isDirectory()) out.push(...manifestFiles(full))
    else if (MANIFEST_NAME.test(entry.name)) out.push(resolve(full))
  }
  return out
}

async function listManifestFiles(path: string): Promise<string[]> {
  let stats: Stats
  try {
    stats = await stat(path)
  } catch {
    throw noSuchPath(path)
  }
  if (!stats.isDirectory()) return [resolve(path)]
  const out: string[] = []
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue
    const full = join(path, entry.name)
    if (entry.isDirectory()) out.push(...(await listManifestFiles(full)))
    else if (MANIFEST_NAME.test(entry.name)) out.push(resolve(full))
  }
  return out
}

const MANIFEST_NAME = /\.ya?ml$/i

/**
 * Opened without blocking: were a named pipe to slip in between the check and the open,
 * opening it for reading would wait for a writer (forever), and the fstat after the open
 * refuses it anyway.
 */
const OPEN_FLAGS = OPEN_WITHOUT_WAITING
const CHUNK_BYTES = 64 * 1024
/** Parsing time `readManifests` takes at once before it lets the event loop run, ms. */
const PARSE_SLICE_MS = 10

/** Why a manifest file cannot be read as one, or undefined when it can. */
function unreadable(stats: Stats): string | undefined {
  const what = notARegularFile(stats)
  if (what) return `is ${what}, not a file; a manifest must be a regular YAML file (a link to one is fine)`
  if (stats.size > MAX_MANIFEST_BYTES) return tooLarge(stats.size)
  return undefined
}

function tooLarge(size: number | undefined): string {
  // Rounded up: a file just over the limit does not read as the limit itself.
  const mb = (n: number) => `${Math.ceil((n / 1024 / 1024) * 10) / 10} MB`
  return `is ${size === undefined ? 'larger than' : `${mb(size)}, over`} the limit of ${mb(MAX_MANIFEST_BYTES)} for one manifest file; split it into smaller files`
}

function readProblem(file: string, error: unknown): ManifestError {
  if (error instanceof ManifestError) return error
  const code = (error as NodeJS.ErrnoException).code
  return new ManifestError(
    file,
    undefined,
    undefined,
    code === 'ENOENT'
      ? 'no such file (it went away while the manifests were read)'
      : `cannot be read (${code ?? (error as Error).message}); make it a regular file the monitor's user can read`,
  )
}

/** Appends `chunk` to `chunks` unless the file grew past the limit since its fstat. */
function keep(chunks: Buffer[], total: number, chunk: Buffer, file: string): number {
  const next = total + chunk.length
  if (next > MAX_MANIFEST_BYTES) throw new ManifestError(file, undefined, undefined, tooLarge(undefined))
  chunks.push(chunk)
  return next
}

/** The text of one manifest file: a regular file of at most `MAX_MANIFEST_BYTES`, or a `ManifestError`. */
async function readManifestFile(file: string): Promise<string> {
  try {
    // Checked before the open too: a device is never opened (some do things when opened).
    const problem = unreadable(await stat(file))
    if (problem) throw new ManifestError(file, undefined, undefined, problem)
    const handle = await open(file, OPEN_FLAGS)
    try {
      const opened = unreadable(await handle.stat())
      if (opened) throw new ManifestError(file, undefined, undefined, opened)
      const chunks: Buffer[] = []
      let total = 0
      for (;;) {
        const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(CHUNK_BYTES), 0, CHUNK_BYTES, null)
        if (bytesRead === 0) break
        total = keep(chunks, total, buffer.subarray(0, bytesRead), file)
      }
      return unsignedManifest(Buffer.concat(chunks, total).toString('utf8'), file)
    } finally {
      await handle.close()
    }
  } catch (error) {
    throw readProblem(file, error)
  }
}

/** `readManifestFile`, synchronously. */
function readManifestFileSync(file: string): string {
  try {
    const problem = unreadable(statSync(file))
    if (problem) throw new ManifestError(file, undefined, undefined, problem)
    const fd = openSync(file, OPEN_FLAGS)
    try {
      const opened = unreadable(fstatSync(fd))
      if (opened) throw new ManifestError(file, undefined, undefined, opened)
      const chunks: Buffer[] = []
      let total = 0
      for (;;) {
        const buffer = Buffer.allocUnsafe(CHUNK_BYTES)
        const bytesRead = readSync(fd, buffer, 0, CHUNK_BYTES, null)
        if (bytesRead === 0) break
        total = keep(chunks, total, buffer.subarray(0, bytesRead), file)
      }
      return unsignedManifest(Buffer.concat(chunks, total).toString('utf8'), file)
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    throw readProblem(file, error)
  }
}

/** Parses the text of one manifest file (one pod per YAML document). */
export function parseManifest(text: string, file: string, defaults: ManifestDefaults = {}): PodManifest[] {
  rejectUnknownKeys('parseManifest(text, file, defaults)', defaults, MANIFEST_DEFAULTS_KEYS)
  return [...podsIn(unsignedManifest(text, file), file, defaults)]
}

/**
 * The pods of one manifest file, a YAML document at a time: each document is parsed and
 * read only when the one before it is done, so `readManifests` can let the event loop run
 * between them (50,000 checks are ~3 MB of YAML and take seconds to parse and read).
 */
function* podsIn(text: string, file: string, defaults: ManifestDefaults): Generator<PodManifest> {
  const lineCounter = new LineCounter()
  const composer = new Composer({ prettyErrors: false })
  for (const doc of composer.compose(new Parser(lineCounter.addNewLine).parse(text))) {
    const error = doc.errors[0]
    if (error) {
      const line = error.linePos?.[0]?.line ?? lineCounter.linePos(error.pos[0]).line
      const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '')
      throw new ManifestError(file, line, undefined, `YAML syntax error: ${message}`)
    }
    if (isEmptyDocument(doc)) continue // a trailing `---`, a document of comments only
    let pod: PodManifest
    try {
      pod = readPod(new ManifestReader(doc, file, lineCounter, defaults))
    } catch (error) {
      if (error instanceof ManifestError) throw error
      // A mistake no reader words yet still names its file and pod, not only what failed.
      const offset = doc.contents?.range?.[0]
      const line = typeof offset === 'number' ? lineCounter.linePos(offset).line : undefined
      throw new ManifestError(file, line, undefined, error instanceof Error ? error.message : String(error))
    }
    yield pod
  }
}

/**
 * `podsIn`, taking the pods of each piece of the file (documents.ts) that `cache` kept
 * from the last load, and reading the rest a piece at a time. A piece that has any mistake
 * sends the whole file through `podsIn` from where the pieces left off, so that the error
 * is the one it always was, found after the same pods.
 */
function* cachedPodsIn(
  text: string,
  file: string,
  defaults: ManifestDefaults,
  cache: ManifestCache,
): Generator<PodManifest> {
  let done = 0
  for (const piece of documentTexts(text)) {
    let pods = cache.get(file, piece)
    if (!pods) {
      const read = readPiece(piece, file, defaults)
      if (!read) {
        let n = 0
        for (const pod of podsIn(text, file, defaults)) if (n++ >= done) yield pod
        return
      }
      pods = read.readsOtherFiles ? read.pods : cache.keep(file, piece, read.pods)
    }
    for (const pod of pods) {
      done++
      yield pod
    }
  }
}

/**
 * The pods of one piece of a file, parsed on its own (its lines counted from its first),
 * or undefined if it has any mistake; `readsOtherFiles` when they depend on more than the
 * piece (a `token_file`).
 */
function readPiece(
  piece: DocumentText,
  file: string,
  defaults: ManifestDefaults,
): { pods: PodManifest[]; readsOtherFiles: boolean } | undefined {
  const lineCounter = new LineCounter()
  const composer = new Composer({ prettyErrors: false })
  const pods: PodManifest[] = []
  let readsOtherFiles = false
  for (const doc of composer.compose(new Parser(lineCounter.addNewLine).parse(piece.text))) {
    if (doc.errors.length > 0) return undefined
    if (isEmptyDocument(doc)) continue
    try {
      const reader = new ManifestReader(doc, file, lineCounter, defaults, piece.line)
      pods.push(readPod(reader))
      readsOtherFiles ||= reader.readsOtherFiles
    } catch {
      return undefined
    }
  }
  // Errors that no document holds: the yaml package leaves them for the next document,
  // which a piece does not have (none are known without a directive, which keeps a file whole).
  if (composer.streamInfo().errors.length > 0) return undefined
  return { pods, readsOtherFiles }
}

/**
 * A document with nothing in it: a trailing `---`, one of comments only, a stray `...`.
 * The yaml package gives it an empty plain scalar (no contents at all only for an empty
 * text); an explicit `~` or `null` is something, and is refused as not a mapping.
 */
function isEmptyDocument(doc: Document.Parsed): boolean {
  const { contents } = doc
  if (contents === null) return true
  const range = contents.range
  return isScalar(contents) && contents.value === null && range !== undefined && range[0] === range[1]
}

function readPod(r: ManifestReader): PodManifest {
  const root = r.data
  if (!isRecord(root)) r.fail([], 'a manifest must be a YAML mapping with at least an `id` key')
  const id = r.str(root, ['id'], true)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id))
    r.fail(['id'], `"${id}" is not a usable pod id; use letters, digits, ".", "_" and "-"`)
  const node = nodeName(r, root)
  const checks: CheckSpec[] = []

  const statusPort = root.status_port
  const status = root.status
  if (status !== undefined && status !== null && !isRecord(status))
    r.fail(['status'], 'must be a mapping with `path`, `port` and `localhost_only`')
  const stanza = isRecord(status) ? status : {}
  const statusHost = r.host(stanza, ['status', 'host'])
  const port =
    stanza.port !== undefined
      ? r.port(stanza, ['status', 'port'])
      : statusPort !== undefined
        ? r.port(root, ['status_port'])
        : undefined
  if (port !== undefined) {
    const plain = r.bool(root, ['status_http']) ?? false
    let path = r.str(stanza, ['status', 'path'], false) ?? '/_status'
    if (!path.startsWith('/')) path = `/${path}`
    const localhostOnly = r.bool(stanza, ['status', 'localhost_only']) ?? false
    // p2's preparer checked the pod on its own node; a named node is reached by name.
    const host = statusHost ?? (localhostOnly || root.node === undefined ? 'localhost' : node)
    const url = `${plain ? 'http' : 'https'}://${formatHost(host)}:${port}${path}`
    const base = r.common(stanza, ['status'], { pod: id, node, check: 'health_check' })
    checks.push({
      ...base,
      kind: 'http',
      url,
      target: redactUrl(url),
      method: 'GET',
      headers: {},
      tls: r.tls(stanza, ['status']),
    })
  }

  const list = root.checks
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) r.fail(['checks'], 'must be a list of checks, each a mapping with a `name`')
    const names = new Set(checks.map((c) => c.check))
    list.forEach((_, i) => {
      const check = readCheck(r, root, ['checks', i], { pod: id, node }, port, localhostOnlyHost(stanza, root, node))
      if (names.has(check.check))
        r.fail(['checks', i, 'name'], `"${check.check}" is used twice in pod "${id}"; give each check its own name`)
      names.add(check.check)
      checks.push(check)
    })
  }
  // p2 checks only the pods that opt in with a status_port, and a fleet's manifests are all
  // of its pods: a p2 pod manifest (it has launchables) without one is read and not checked.
  // Anything else with nothing to check is a mistake (`check:` for `checks:`).
  if (checks.length === 0 && root.launchables === undefined)
    r.fail([], `pod "${id}" has nothing to check; add \`status_port\` (p2) or a \`checks\` list`)
  const podLabels = r.labels(root, ['labels'])
  if (podLabels) for (const check of checks) check.labels = { ...podLabels, ...check.labels }
  const podWindows = r.maintenance(root, ['maintenance'])
  if (podWindows) for (const check of checks) check.maintenance = [...podWindows, ...(check.maintenance ?? [])]
  // The pod's cert_expiry_warning is the default of its TLS checks (the p2 status check too).
  const podWarningDays = r.certExpiryWarning(root, ['cert_expiry_warning'])
  if (podWarningDays !== undefined)
    for (const check of checks) {
      if (check.kind !== 'http' && check.kind !== 'grpc') continue
      const tls = check.kind === 'http' ? check.url.startsWith('https:') : check.tls !== undefined
      if (tls && check.certExpiryWarningDays === undefined) check.certExpiryWarningDays = podWarningDays
    }
  return { id, node, file: r.file, checks }
}

/**
 * The pod's node: its `node`, else `--node`, else this host's name. It is part of every
 * check's id (`node/pod/check`) and the host a pod on a named node is reached by, so it is
 * a host name.
 */
function nodeName(r: ManifestReader, root: Record<string, unknown>): string {
  const named = r.str(root, ['node'], false)
  const node = named ?? r.defaults.node ?? hostname()
  if (isHostName(node)) return node
  const rule = 'use a host name: letters, digits, ".", "_" and "-", as in web-1 or db-7.internal'
  if (named !== undefined) r.fail(['node'], `${JSON.stringify(node)} is not a usable node name; ${rule}`)
  r.fail(
    [],
    r.defaults.node !== undefined
      ? `the node name ${JSON.stringify(node)} (--node) is not usable; ${rule}`
      : `this host's name ${JSON.stringify(node)} is not usable as a node name; set \`node:\` in the manifest or --node, and ${rule}`,
  )
}

function readCheck(
  r: ManifestReader,
  root: Record<string, unknown>,
  path: Path,
  pod: { pod: string; node: string },
  statusPort: number | undefined,
  podHost: string,
): CheckSpec {
  const raw = (root.checks as unknown[])[path[1] as number]
  if (!isRecord(raw)) r.fail(path, 'each check must be a mapping with a `name` and a `type` (or a `url`)')
  const name = r.str(raw, [...path, 'name'], true)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    r.fail([...path, 'name'], `"${name}" is not a usable check name; use letters, digits, ".", "_" and "-"`)
  const type = checkType(r, raw, path)
  const kind: CheckKind =
    type === 'http' || type === 'https'
      ? 'http'
      : type === 'grpc' || type === 'grpcs'
        ? 'grpc'
        : type === 'tcp' || type === 'exec' || type === 'push'
          ? type
          : 'probe'
  const allowed = new Set([...COMMON_KEYS, ...KEYS_BY_KIND[kind]])
  for (const key of Object.keys(raw)) {
    if (allowed.has(key)) continue
    // The TLS settings sit under `tls:`; written at the check's level, say where they go.
    const tlsKey = allowed.has('tls') && TLS_KEYS.includes(key)
    r.fail(
      [...path, key],
      tlsKey
        ? `unknown key for a ${type} check; write it under tls: (tls: { ${key}: … })`
        : `unknown key for a ${type} check${didYouMean(key, allowed)}; the keys are ${[...allowed].join(', ')}`,
    )
  }
  const key: CheckKey = { ...pod, check: name }
  const common = r.common(raw, path, key, kind === 'push')

  return CHECK_READERS[kind](r, { raw, path, type, common, statusPort, podHost })
}

function checkType(r: ManifestReader, raw: Record<string, unknown>, path: Path): string {
  if (raw.type !== undefined) {
    const type = String(raw.type).toLowerCase()
    const instead = NO_CHECKER[type]
    if (instead) r.fail([...path, 'type'], `"${type}" cannot be checked: ${instead}`)
    if (!CHECK_TYPES.includes(type))
      r.fail(
        [...path, 'type'],
        `unknown check type "${String(raw.type)}"${didYouMean(type, CHECK_TYPES)}; the types are ${CHECK_TYPES.join(', ')}`,
      )
    return type
  }
  const url = typeof raw.url === 'string' ? raw.url : typeof raw.target === 'string' ? raw.target : undefined
  if (url) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
    const where = [...path, raw.url !== undefined ? 'url' : 'target']
    const instead = scheme === undefined ? undefined : NO_CHECKER[scheme]
    if (instead) r.fail(where, `${scheme}:// cannot be checked: ${instead}`)
    if (scheme && CHECK_TYPES.includes(scheme) && scheme !== 'exec' && scheme !== 'push') return scheme
    r.fail(
      [...path, raw.url !== undefined ? 'url' : 'target'],
      `cannot tell the check type from "${redactUrl(url)}"; add a \`type\``,
    )
  }
  if (raw.command !== undefined) return 'exec'
  if (raw.period !== undefined) return 'push'
  r.fail(path, `check "${String(raw.name)}" needs a \`type\` (${CHECK_TYPES.join(', ')}) or a \`url\``)
}

function localhostOnlyHost(stanza: Record<string, unknown>, root: Record<string, unknown>, node: string): string {
  if (typeof stanza.host === 'string') return stanza.host
  return stanza.localhost_only === true || root.node === undefined ? 'localhost' : node
}

/**
 * What a check does (its target and options) as a string: a reload keeps the state of a
 * check whose fingerprint did not change.
 */
export function checkFingerprint(spec: CheckSpec): string {
  const { source: _source, ...rest } = spec
  return JSON.stringify(rest)
}
