/**
 * A manifest file's text cut into its YAML documents without parsing it, so that a reload
 * parses only the documents that changed (see `ManifestCache`).
 *
 * A line that starts with `---` followed by a space, a tab, a line break or the end of the
 * text starts a document, whatever comes before it: the yaml package's lexer ends a block
 * scalar, a quoted or plain scalar and a flow collection at such a line (a scalar that has
 * not ended yet is an error, not text that holds `---`), and its parser then closes the
 * document before it. The lexer and the parser start the next document as they start a
 * text, and the composer carries nothing from one document to the next but directives
 * (`%YAML`, `%TAG`) and errors that no document holds. So each piece parses to the
 * documents the whole text has there, at the same lines counted from the piece's first.
 *
 * What this leaves out is kept whole: a text with a directive line is one piece (its
 * directives apply to the documents after them), and a piece that has any error is read
 * again as part of its whole file (manifest.ts), so that every mistake is reported as it
 * always was. `...` (end of document) never starts a piece; the documents after it stay in
 * the piece before.
 */

/** One piece of a manifest file's text: whole YAML documents, from the start of a line. */
export interface DocumentText {
  text: string
  /** The line of the file the piece starts on, from 1. */
  line: number
}

/** A line that starts with `%` (a BOM may come first): a directive, or a mistake. */
const DIRECTIVE_LINE = /(?:^|\n)\uFEFF?%/

/**
 * The pieces of `text` (see above), in order, each found when it is asked for (a reload
 * lets the event loop run between pieces); an empty piece (a text that starts with `---`)
 * is left out.
 */
export function* documentTexts(text: string): Generator<DocumentText> {
  if (DIRECTIVE_LINE.test(text)) {
    yield { text, line: 1 }
    return
  }
  let start = 0
  let startLine = 1
  // Lines counted up to `counted`, which only moves forward: the whole text is read once.
  let counted = 0
  let line = 1
  for (let at = text.indexOf('\n---'); at !== -1; at = text.indexOf('\n---', at + 1)) {
    if (!endsMarker(text.charCodeAt(at + 4))) continue
    for (let nl = text.indexOf('\n', counted); nl !== -1 && nl <= at; nl = text.indexOf('\n', nl + 1)) {
      line++
      counted = nl + 1
    }
    if (at + 1 > start) yield { text: text.slice(start, at + 1), line: startLine }
    start = at + 1
    startLine = line
  }
  if (start < text.length) yield { text: text.slice(start), line: startLine }
}

/** What may follow `---` in a document marker (the yaml lexer's `isEmpty`): nothing, a space, a tab, a line break. */
function endsMarker(code: number): boolean {
  return Number.isNaN(code) || code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d
}
