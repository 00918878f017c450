#!/usr/bin/env bash
# The one command that shows probekit whole: sets the machine up (Debian packages, npm
# packages, the build) and starts the demo: an example app and worker, and the monitor
# with its dashboard watching both. Ctrl-C stops everything gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/demo.mjs "$@"
