#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, type check, lint, then the tests on
# every Node line probekit supports:
# - the machine's Node and the newest line (26): every test;
# - 22 and 24: the install test (the packed tarball) and the core, CLI and monitor tests.
# With arguments (path substrings, as for scripts/test.mjs), only the matching tests run,
# on the machine's Node only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent typecheck
npm run --silent lint

if [ $# -gt 0 ]; then
  exec node scripts/test.mjs "$@"
fi

source scripts/node-lines.sh
started=$SECONDS
summary=()
failed=0

# run_on NODE_BINARY [FILTER…]
run_on() {
  local node=$1
  shift
  local version
  version=$("$node" -p process.versions.node)
  local what=${*:-every test}
  echo
  echo "== node $version == $what"
  local t0=$SECONDS
  if "$node" scripts/test.mjs "$@"; then
    summary+=("pass  node $version  $what  ($((SECONDS - t0)) s)")
  else
    summary+=("FAIL  node $version  $what  ($((SECONDS - t0)) s)")
    failed=1
  fi
}

run_on "$(command -v node)"
if [ -n "$NODE_PACKAGE" ]; then
  newest=${NODE_LINES[${#NODE_LINES[@]} - 1]}
  run_on "$(node_line_bin "$newest")"
  for version in "${NODE_LINES[@]}"; do
    [ "$version" = "$newest" ] && continue
    run_on "$(node_line_bin "$version")" test/package/ test/core/ test/cli/ test/monitor/
  done
fi

echo
echo "== summary ($((SECONDS - started)) s) =="
printf '%s\n' "${summary[@]}"
exit $failed
