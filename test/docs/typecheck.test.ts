/**
 * Every TypeScript example in README.md and docs/*.md type-checks as a reader's project
 * would compile it: strict, `module`/`moduleResolution` nodenext, probekit's published
 * declarations (dist/, `npm run build` first) and the drivers' own types. The runs in this
 * folder go through tsx, which strips types without checking them, so an example can run
 * and still not compile where it is pasted (`import Redis from 'ioredis'` under nodenext).
 * Left out: blocks marked as a signature or a fragment, which are not programs.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { allBlocks, where } from './blocks.js'
import { docProject, typecheckDir } from './run-block.js'

/** Skip reasons of blocks that are not programs, or need a driver the project does not install. */
const NOT_CHECKED = /^(a signature|a fragment|a reference)\b|^no MongoDB server or driver/
/**
 * Pages whose first block is the preamble of every other one: docs/probes.md opens with the
 * imports and `health`, and says its examples add probes to it (its scenario runs them so).
 */
const PREAMBLE_PAGES = new Set(['docs/probes.md'])

describe('TypeScript examples in the docs', () => {
  it('type-check with strict nodenext against the built package', () => {
    const blocks = allBlocks().filter(
      (b) => (b.lang === 'ts' || b.lang === 'tsx') && !(b.marker === 'skip' && NOT_CHECKED.test(b.reason ?? '')),
    )
    assert.ok(blocks.length >= 15, `only ${blocks.length} TypeScript examples found`)
    // Each block is a file, after its page's preamble if it has one.
    const files = new Map<string, { where: string; code: string[] }>()
    const preambles = new Map<string, string>()
    for (const block of blocks) {
      const preamble = preambles.get(block.file)
      if (PREAMBLE_PAGES.has(block.file) && preamble === undefined) {
        preambles.set(block.file, block.code)
        continue
      }
      const name = `${block.file.replace(/[/.]/g, '_')}_${block.line}`
      files.set(name, { where: where(block), code: preamble === undefined ? [block.code] : [preamble, block.code] })
    }
    const dir = join(docProject(), 'typecheck')
    mkdirSync(dir, { recursive: true })
    const names = new Map<string, string>()
    for (const [name, file] of files) {
      names.set(name, file.where)
      // `export {}`: each example is a module of its own, as it would be in a reader's file.
      writeFileSync(join(dir, `${name}.ts`), `${file.code.join('\n')}\nexport {}\n`)
    }
    const tsc = typecheckDir(dir, {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      skipLibCheck: true,
      experimentalDecorators: true,
    })
    // Name each error by the doc line of its block, not the temp file.
    const report = tsc.output.replace(
      /^([\w-]+)\.ts/gm,
      (file, name: string) => `${names.get(name) ?? file} (${file}, in ${dir})`,
    )
    assert.equal(tsc.status, 0, report)
  })
})
