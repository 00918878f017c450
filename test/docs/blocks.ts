/**
 * The fenced code blocks of README.md and docs/*.md, with the doctest marker written
 * just before each (an HTML comment, invisible on GitHub):
 *
 *   <!-- doctest: skip (why it cannot run: a fragment, a placeholder host, …) -->
 *   <!-- doctest: NAME -->      run by the named scenario in test/docs/docs.test.ts
 *
 * A block of a runnable language (ts, js, sh, console) with no marker is run by the
 * generic runner of its language (see test/docs/README.md); an unlabelled block that shows
 * a shell session (`$ …`) must be labelled `console`.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = new URL('../..', import.meta.url).pathname

export const RUNNABLE = new Set(['ts', 'js', 'sh', 'console', 'bash', 'shell', 'mjs', 'tsx'])

export interface DocBlock {
  /** `docs/cli.md` */
  file: string
  /** Line of the opening fence (1-based). */
  line: number
  /** The first word of the info string (`ts`), or '' for none. */
  lang: string
  code: string
  /** The marker before the block: `skip`, a scenario name, or undefined for none. */
  marker?: string
  /** The reason given with `skip (…)`. */
  reason?: string
  /** The closest heading above the block. */
  heading: string
}

export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`)
  return ['README.md', ...docs]
}

const MARKER = /^<!--\s*doctest:\s*([a-z][a-z0-9-]*)\s*(?:\((.*)\))?\s*-->$/

export function extractBlocks(file: string): DocBlock[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
  const blocks: DocBlock[] = []
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string
    const h = /^#{1,6}\s+(.*)$/.exec(text)
    if (h) heading = h[1] as string
    const open = /^(\s*)(`{3,})(.*)$/.exec(text)
    if (!open) continue
    const fence = open[2] as string
    const lang = (open[3] as string).trim().split(/\s+/)[0] ?? ''
    let end = i + 1
    while (end < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[end] as string)) end++
    const indent = (open[1] as string).length
    const code = lines
      .slice(i + 1, end)
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n')
    // The marker is the nearest non-blank line above the fence.
    let above = i - 1
    while (above >= 0 && (lines[above] as string).trim() === '') above--
    const m = above >= 0 ? MARKER.exec((lines[above] as string).trim()) : null
    blocks.push({
      file,
      line: i + 1,
      lang,
      code,
      heading,
      ...(m ? { marker: m[1] as string } : {}),
      ...(m?.[2] !== undefined ? { reason: (m[2] as string).trim() } : {}),
    })
    i = end
  }
  return blocks
}

export function allBlocks(): DocBlock[] {
  return docFiles().flatMap(extractBlocks)
}

/** `docs/cli.md:50` */
export function where(block: DocBlock): string {
  return `${block.file}:${block.line}`
}
