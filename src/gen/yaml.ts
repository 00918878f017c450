/**
 * YAML that every reader takes as written. kubectl and PyYAML read YAML 1.1, where a plain
 * `yes`, `off`, `y`, `1_000`, `0o17` or `1:20` is a boolean or a number; the `yaml` package
 * quotes only what YAML 1.2 would misread. A header value of `yes` written plain would reach
 * the kubelet as `true`, or fail the manifest.
 */
import { type Document, isScalar, isSeq, visit } from 'yaml'

/** Keys whose lists are commands, every word of which is quoted. */
const COMMAND_KEYS = new Set(['command', 'test'])

/** Words of letters, digits and `._/-` that start with a letter, and paths. */
const PLAIN = /^(?:[A-Za-z][A-Za-z0-9._/-]*|\/[A-Za-z0-9._~/-]*)$/

/**
 * The words of letters alone that YAML 1.1 or 1.2 reads as a boolean or null (in every case,
 * though the specs list only some: `yEs` quoted costs nothing).
 */
const KEYWORDS = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null'])

/**
 * Whether `text`, written plain, reads back as this string in YAML 1.1 and 1.2 alike. Only
 * the plainly safe pass: a path, or a word that starts with a letter and is not one of the
 * `KEYWORDS`. Every number, date, `.inf`, `~` and `<<` starts with something other than a
 * letter, so `web` and `api-1` stay plain while `yes`, `Off` and `1_000` are quoted.
 */
export function plainIsString(text: string): boolean {
  return PLAIN.test(text) && !KEYWORDS.has(text.toLowerCase())
}

/**
 * The document as YAML, every string value that is not plainly a string in double quotes.
 * Keys are the generator's own words (`httpGet`, `path`) and stay plain, except `names`:
 * keys the user chose, such as a compose service name. The words of a command (`command`,
 * compose's `test`) are all quoted, the way pod specs and compose files usually write them.
 */
export function renderYaml(doc: Document, names: readonly string[] = []): string {
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && COMMAND_KEYS.has(pair.key.value as string) && isSeq(pair.value)) {
        for (const word of pair.value.items) if (isScalar(word)) word.type = 'QUOTE_DOUBLE'
      }
    },
    Scalar(key, node) {
      if (typeof node.value !== 'string' || plainIsString(node.value)) return
      if (key !== 'key' || names.includes(node.value)) node.type = 'QUOTE_DOUBLE'
    },
  })
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false })
}
