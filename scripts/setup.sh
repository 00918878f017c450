#!/usr/bin/env bash
# Installs everything probekit's demo, tests and benchmarks need on a fresh Debian/Ubuntu
# machine: the servers the tests start (from Debian's packages), the npm packages from the
# lockfile, the other Node lines the tests run on (from npm), and the build. Idempotent:
# it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# binary -> Debian package
declare -A NEEDS=(
  [initdb]=postgresql [mariadbd]=mariadb-server [redis-server]=redis-server [memcached]=memcached
  [rabbitmq-server]=rabbitmq-server [nats-server]=nats-server [mosquitto]=mosquitto [etcd]=etcd-server
  [etcdctl]=etcd-client [nginx]=nginx [chromium]=chromium [curl]=curl [openssl]=openssl [ip]=iproute2
  [redis-cli]=redis-tools [pg_isready]=postgresql-client [wrk]=wrk [hyperfine]=hyperfine
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter [flock]=util-linux [saslpasswd2]=sasl2-bin
  [taskset]=util-linux [/usr/bin/time]=time [prometheus-alertmanager]=prometheus-alertmanager
  [prometheus]=prometheus
)

have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  # PostgreSQL's server binaries live outside PATH on Debian.
  [ "$1" = initdb ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]
}

missing=()
for bin in "${!NEEDS[@]}"; do have "$bin" || missing+=("${NEEDS[$bin]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing from Debian's packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Servers installed here must not keep default ports busy; the tests start their own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages from the lockfile, when node_modules is missing or older than the lockfile.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The other Node lines scripts/test.sh runs the tests on, from npm (idempotent: a line
# already at its pinned version is left alone).
source scripts/node-lines.sh
if [ -z "$NODE_PACKAGE" ]; then
  echo "setup: no Node binaries on npm for $(uname -m); the tests will run on the machine's Node only"
else
  for version in "${NODE_LINES[@]}"; do
    if [ "$("$(node_line_bin "$version")" --version 2>/dev/null)" != "v$version" ]; then
      echo "setup: Node $version ($NODE_PACKAGE@$version) into .cache/node/${version%%.*}"
      rm -rf ".cache/node/${version%%.*}"
      npm install --prefix ".cache/node/${version%%.*}" --no-save --no-package-lock --no-audit --no-fund \
        --loglevel=error "$NODE_PACKAGE@$version"
    fi
  done
fi

echo "setup: building"
npm run --silent build
