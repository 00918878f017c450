#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): `probekit check` runs every few seconds in
// every container, so it loads one self-contained CommonJS bundle and never starts the
// ESM loader. Every other command loads the ESM bundle, split into a chunk per command.
'use strict'

function missingBuild(error) {
  if (
    error &&
    (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND') &&
    /dist[\\/]bin[\\/](check\.cjs|probekit\.js)'/.test(error.message)
  ) {
    process.stdout.write(
      'probekit: the CLI bundle (dist/bin) is missing; run "npm run build" in the probekit package\n',
    )
    process.exit(1)
  }
  throw error
}

if (process.argv[2] === 'check') {
  // No compile cache here: measured on Node 22 and 24, it saved nothing on this small,
  // minified bundle, and loading node:module for it costs four built-in modules.
  try {
    require('../dist/bin/check.cjs')
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
