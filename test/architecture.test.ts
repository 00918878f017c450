/**
 * The layering docs/architecture.md draws, held by a test: the core knows no face of
 * probekit (no HTTP, no formats, no monitor, no CLI…), and no two modules of src/ import
 * each other, directly or round a longer loop.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import ts from 'typescript'

const root = resolve(import.meta.dirname, '..')
const src = join(root, 'src')

/** Folders of src/ the core may not import from, type-only imports included. */
const ABOVE_CORE = ['http', 'format', 'monitor', 'cli', 'grpc', 'worker', 'gen', 'probes']

interface Edge {
  /** The importing file and the imported one, relative to the repository (`src/core/health.ts`). */
  from: string
  to: string
  /** `import type`, `export type … from`, or `import('…').T` in a type: gone at run time. */
  typeOnly: boolean
}

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** `./x.js` → `src/…/x.ts` (or `…/x/index.ts`); packages and `node:` modules are left out. */
function resolveSpecifier(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const target = resolve(dirname(file), specifier)
  for (const candidate of [target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(root, candidate)
  }
  return undefined
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const edges: Edge[] = []
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return
    const to = resolveSpecifier(file, specifier.text)
    if (to) edges.push({ from: relative(root, file), to, typeOnly })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      // `import { type A, type B } from` names only types; a bare `import './x.js'` runs x.
      const namedTypesOnly =
        clause !== undefined &&
        clause.name === undefined &&
        clause.namedBindings !== undefined &&
        ts.isNamedImports(clause.namedBindings) &&
        clause.namedBindings.elements.length > 0 &&
        clause.namedBindings.elements.every((element) => element.isTypeOnly)
      add(node.moduleSpecifier, clause?.isTypeOnly === true || namedTypesOnly)
    } else if (ts.isExportDeclaration(node)) {
      const namedTypesOnly =
        node.exportClause !== undefined &&
        ts.isNamedExports(node.exportClause) &&
        node.exportClause.elements.length > 0 &&
        node.exportClause.elements.every((element) => element.isTypeOnly)
      add(node.moduleSpecifier, node.isTypeOnly || namedTypesOnly)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return edges
}

const edges = sourceFiles(src).flatMap(importsOf)

/**
 * Cycles of value imports, each as the files round it (`a.ts → b.ts → a.ts`): those a
 * depth-first walk meets, which is at least one through every tangle.
 */
function cycles(graph: Edge[]): string[][] {
  const next = new Map<string, Set<string>>()
  for (const edge of graph) {
    if (edge.typeOnly || edge.from === edge.to) continue
    let targets = next.get(edge.from)
    if (!targets) next.set(edge.from, (targets = new Set()))
    targets.add(edge.to)
  }
  const found: string[][] = []
  const seen = new Set<string>()
  const done = new Set<string>()
  const path: string[] = []
  const walk = (file: string): void => {
    seen.add(file)
    path.push(file)
    for (const target of [...(next.get(file) ?? [])].sort()) {
      const at = path.indexOf(target)
      if (at >= 0) found.push([...path.slice(at), target])
      else if (!seen.has(target)) walk(target)
    }
    path.pop()
    done.add(file)
  }
  for (const file of [...next.keys()].sort()) if (!done.has(file)) walk(file)
  return found
}

describe('architecture', () => {
  it('reads the imports of src/ (a parser that finds nothing proves nothing)', () => {
    const core = edges.filter((edge) => edge.from === 'src/core/health.ts')
    assert.ok(
      core.some((edge) => edge.to === 'src/core/lifecycle.ts'),
      'src/core/health.ts imports lifecycle.ts',
    )
    const dynamic = edges.filter((edge) => edge.from === 'src/probes/url.ts' && edge.to === 'src/probes/redis.ts')
    assert.equal(dynamic.length > 0, true, "src/probes/url.ts's import('./redis.js') is read")
    assert.ok(
      cycles([
        { from: 'a.ts', to: 'b.ts', typeOnly: false },
        { from: 'b.ts', to: 'c.ts', typeOnly: false },
        { from: 'c.ts', to: 'a.ts', typeOnly: false },
      ]).some((cycle) => cycle.join(' → ') === 'a.ts → b.ts → c.ts → a.ts'),
      'a three-file loop is a cycle',
    )
    assert.deepEqual(
      cycles([
        { from: 'a.ts', to: 'b.ts', typeOnly: false },
        { from: 'b.ts', to: 'a.ts', typeOnly: true },
      ]),
      [],
      'a type-only import back closes no cycle',
    )
  })

  it(`src/core imports nothing from ${ABOVE_CORE.map((dir) => `src/${dir}`).join(', ')}`, () => {
    const upward = edges.filter(
      (edge) => edge.from.startsWith('src/core/') && ABOVE_CORE.some((dir) => edge.to.startsWith(`src/${dir}/`)),
    )
    assert.deepEqual(
      upward.map((edge) => `${edge.from} imports ${edge.to}${edge.typeOnly ? ' (types)' : ''}`),
      [],
      'the core is what every face builds on; move what it needs into src/core (see docs/architecture.md)',
    )
  })

  it('no import cycles in src/ (value imports, dynamic import() included)', () => {
    assert.deepEqual(
      cycles(edges).map((cycle) => cycle.join(' → ')),
      [],
      'break each cycle by moving what both sides share into a module of its own',
    )
  })
})
