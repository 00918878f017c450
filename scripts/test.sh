#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, type check, lint, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent typecheck
npm run --silent lint
node scripts/test.mjs "$@"
