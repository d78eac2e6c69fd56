#!/usr/bin/env bash
# Runs every test of dd0c/cost from a clean clone. Arguments are passed to the test runner as a
# name filter: `scripts/test.sh parity` runs only tests whose names contain "parity".
#
# Installs (from Debian's packages, when missing) and starts what the tests need on loopback, and
# stops it on exit:
# - PostgreSQL 15: a throwaway cluster (fsync off) on port $DD0C_TEST_PG_PORT (55432); each test
#   creates its own database from $DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
# Outside the checkout: the postgres user must be able to reach it, and a clone may live under a
# directory it cannot enter (/root).
state=$(mktemp -d /tmp/dd0c-test.XXXXXX)
chmod 755 "$state"
pg_port="${DD0C_TEST_PG_PORT:-55432}"

say() { echo "scripts/test.sh: $*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found; install Rust (https://rustup.rs) first"
  exit 1
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return; }
  done
}

start_postgres() {
  if [ -z "$(pg_bin)" ]; then
    say "installing PostgreSQL from Debian's packages"
    apt_install postgresql
  fi
  local bin data
  bin=$(pg_bin)
  data="$state/pg"
  rm -rf "$data"
  mkdir -p "$data"
  # initdb refuses to run as root: the cluster belongs to the postgres user (or to us if not root).
  local run_as=()
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$state"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $pg_port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null
  PG_STOP=("${run_as[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop)
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
  # Tests that restart the server use these.
  export DD0C_TEST_PG_CTL="${run_as[*]} $bin/pg_ctl -D $data"
  say "PostgreSQL on 127.0.0.1:$pg_port"
}

stop_services() {
  if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$state"
}
trap stop_services EXIT

start_postgres

cargo test --workspace --locked -- "$@"
