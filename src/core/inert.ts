/**
 * Output is inert: what a target says (a status text, a body, an error message) reaches a
 * terminal, a log or a JSON document only with its control characters shown as visible
 * escapes. A raw ESC or C1 byte in a terminal can clear the screen, retitle the window,
 * write the clipboard (OSC 52) or forge a prompt; a raw newline in a log forges a line; a
 * bidirectional control (U+202E and its kin, "Trojan Source") makes a line read in an order
 * other than the one it was written in, so a comment can show a different id or time.
 */

// C0 but tab and newline, DEL, C1 (U+0080–U+009F; U+009B is a one-byte CSI), and the
// bidirectional controls: the embeddings and overrides U+202A–U+202E, the isolates
// U+2066–U+2069 and the marks U+200E, U+200F, U+061C. Arabic or Hebrew text itself is left
// alone: it reads as it should without them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
// The same, and newlines too: a log line stays one line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_OR_NEWLINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g
// JSON.stringify escapes C0 itself; DEL, C1 and the bidirectional controls it leaves raw.
const JSON_RAW = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * `text` with every control character but newline and tab shown as `\xNN`: ESC becomes
 * `\x1b`, the C1 CSI `\x9b`, DEL `\x7f`, a carriage return `\x0d`; a bidirectional
 * control as `\uNNNN` (`\u202e`). Printable text, newlines and tabs are unchanged.
 *
 * @example
 * terminalSafe('\u001b[2Jgone') // '\\x1b[2Jgone'
 * terminalSafe('ok \u202e1 yb') // 'ok \\u202e1 yb'
 */
export function terminalSafe(text: string): string {
  CONTROL.lastIndex = 0
  return CONTROL.test(text) ? text.replace(CONTROL, escapeChar) : text
}

/**
 * One line for a log: `terminalSafe`, with newlines shown as `\n` too, so a reason that
 * holds a newline cannot forge a second log line.
 */
export function lineSafe(text: string): string {
  CONTROL_OR_NEWLINE.lastIndex = 0
  return CONTROL_OR_NEWLINE.test(text) ? text.replace(CONTROL_OR_NEWLINE, escapeChar) : text
}

/**
 * A JSON document (as `JSON.stringify` writes it) with DEL, C1 and the bidirectional
 * controls escaped as `\u007f`, `\u009b`, `\u202e`: the same document to a parser, inert
 * in a terminal.
 */
export function jsonSafe(json: string): string {
  JSON_RAW.lastIndex = 0
  return JSON_RAW.test(json)
    ? json.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : json
}

/**
 * `text` cut to `max` characters, whole code points (a cut never splits a surrogate pair),
 * with `…` where it was cut: a name a request supplies, as an answer repeats it. Looks at
 * no more than `2 * max` code units of a long text.
 *
 * @example
 * cutShort('x'.repeat(100), 4) // 'xxxx…'
 */
export function cutShort(text: string, max: number): string {
  if (text.length <= max) return text
  const head = Array.from(text.slice(0, 2 * max))
    .slice(0, max)
    .join('')
  return head.length < text.length ? `${head}…` : head
}

function escapeChar(c: string): string {
  if (c === '\n') return '\\n'
  const code = c.charCodeAt(0)
  return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`
}
