#!/usr/bin/env node
import { main } from '../dist/cli/main.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    // main() reports expected failures itself; this is the last resort. Exit 1, never 2 (Docker reserves it).
    console.log(`probekit: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  },
)
