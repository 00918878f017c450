#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): `probekit check` runs every few seconds in
// every container, so it loads one self-contained CommonJS bundle and never starts the
// ESM loader. Every other command loads the ESM bundle, split into a chunk per command.
'use strict'

function missingBuild(error) {
  if (
    error &&
    (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND') &&
    /dist[\\/]bin[\\/](check(-\w+)?\.cjs|probekit\.js)'/.test(error.message)
  ) {
    process.stdout.write(
      'probekit: the CLI bundle (dist/bin) is missing; run "npm run build" in the probekit package\n',
    )
    process.exit(1)
  }
  throw error
}

/** The check bundle holding only the probe these schemes need (see scripts/build-cli.mjs). */
const SLIM_CHECK = {
  http: 'http',
  https: 'http',
  tcp: 'tcp',
  redis: 'redis',
  rediss: 'redis',
  postgres: 'postgres',
  postgresql: 'postgres',
}

/**
 * `check-http` when every target of `probekit check` is http(s)://, and so on; `check`, the
 * full bundle, for any other scheme or a mix. Targets are the arguments that start with a
 * scheme and `://` (no flag or flag value does). A slim bundle meeting a scheme it lacks
 * hands the run to the full one, so a wrong guess costs time, never a wrong answer.
 */
function checkBundle(args) {
  let slim
  for (const arg of args) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(arg)?.[1].toLowerCase()
    if (scheme === undefined) continue
    const bundle = Object.hasOwn(SLIM_CHECK, scheme) ? SLIM_CHECK[scheme] : undefined
    if (bundle === undefined || (slim !== undefined && slim !== bundle)) return 'check'
    slim = bundle
  }
  return slim === undefined ? 'check' : `check-${slim}`
}

if (process.argv[2] === 'check') {
  // No compile cache here: measured on Node 22 and 24, it saved nothing on this small,
  // minified bundle, and loading node:module for it costs four built-in modules.
  try {
    require(`../dist/bin/${checkBundle(process.argv.slice(3))}.cjs`)
  } catch (error) {
    missingBuild(error)
  }
} else {
  // Node 22.1 and later keep the compiled bundles in an on-disk cache (under the OS temp
  // directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so every run after the first
  // skips most of the parsing. Older lines have no such function, and a cache that cannot
  // be written is reported in the return value, never thrown.
  require('node:module').enableCompileCache?.()
  import('../dist/bin/probekit.js').catch(missingBuild)
}
