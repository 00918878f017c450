#!/usr/bin/env node
// Copies the non-TypeScript files the library serves (the monitor dashboard's HTML, CSS,
// JavaScript and icon) from src/ into dist/, beside the compiled modules that read them.
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const src = join(root, 'src')
const dist = join(root, 'dist')

function assetDirs(dir) {
  const found = []
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (!statSync(path).isDirectory()) continue
    if (entry === 'assets') found.push(path)
    else found.push(...assetDirs(path))
  }
  return found
}

for (const dir of assetDirs(src)) {
  const target = join(dist, relative(src, dir))
  cpSync(dir, target, { recursive: true })
  if (!existsSync(target)) throw new Error(`copy-assets: could not copy ${dir} to ${target}`)
}
