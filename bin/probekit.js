#!/usr/bin/env node
// CommonJS on purpose (see bin/package.json): `probekit check` runs every few seconds in
// every container, so it loads one self-contained CommonJS bundle and never starts the
// ESM loader. Every other command loads the ESM bundle, split into a chunk per command.
'use strict'
if (process.argv[2] === 'check') require('../dist/bin/check.cjs')
else import('../dist/bin/probekit.js')
