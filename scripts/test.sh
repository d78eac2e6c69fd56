#!/usr/bin/env bash
# Runs every test of dd0c/cost from a clean clone. Arguments are passed to the test runner as a
# name filter: `scripts/test.sh parity` runs only tests whose names contain "parity".
#
# Installs (from Debian's packages, when missing) and starts what the tests need on loopback, and
# stops it on exit:
# - PostgreSQL 15: a throwaway cluster (fsync off) on port $DD0C_TEST_PG_PORT (55432); each test
#   creates its own database from $DATABASE_URL.
# - Redis (Debian's redis-server) on port $DD0C_TEST_REDIS_PORT (56379), no persistence:
#   $DD0C_TEST_REDIS_URL.
# - An SMTP server: aiosmtpd (PyPI, in a virtualenv under ~/.cache/dd0c-test-venv) on port
#   $DD0C_TEST_SMTP_PORT (52525), storing what it receives in a Maildir: $DD0C_TEST_SMTP_URL,
#   $DD0C_TEST_MAILDIR.
# - The moto AWS emulator (PyPI `moto[server]`, same virtualenv) on port $DD0C_TEST_MOTO_PORT
#   (55500): $DD0C_TEST_AWS_ENDPOINT.
# - schemathesis (PyPI, same virtualenv), which the `openapi` tests run against the API:
#   $DD0C_TEST_SCHEMATHESIS. `scripts/test.sh openapi` runs just those.
# - standardwebhooks (PyPI, same virtualenv), the specification's own verifier, which checks the
#   signed webhook's signatures in the notify tests: $DD0C_TEST_PYTHON.
# - opentelemetry-proto (PyPI, same virtualenv): OpenTelemetry's own OTLP protobufs, which the
#   trace receiver of the telemetry tests (tests/src/otlp_receiver.py) decodes spans with.
# - cfn-lint (PyPI, same virtualenv) and infra-cdk's Node packages (`npm ci`; Node.js and npm
#   from Debian's packages when missing): the CDK app's tests (Vitest) run first, then its stack
#   is synthesized for the deploy test: $DD0C_TEST_CDK_TEMPLATE, $DD0C_TEST_CFN_LINT.
#   `scripts/test.sh cdk` runs just those.
# - The dashboard's Node packages (`npm ci`) and build, and Debian's chromium when missing: its
#   Vitest tests, then end to end (Chromium driven by playwright-core against `dd0c-cost serve`
#   on Postgres), then its benchmark, which prints figures. `scripts/test.sh ui` runs just those.
# - The self-hosted deployment (tests/compose/run.sh): Debian's docker.io, docker-compose and
#   debootstrap when missing, dockerd when none answers, our images and stand-ins for postgres,
#   redis and caddy; install.sh brings the stack up and the scenario drives it through caddy.
#   `scripts/test.sh compose` runs just that.
set -euo pipefail
cd "$(dirname "$0")/.."
# Outside the checkout: the postgres user must be able to reach it, and a clone may live under a
# directory it cannot enter (/root).
state=$(mktemp -d /tmp/dd0c-test.XXXXXX)
chmod 755 "$state"
pg_port="${DD0C_TEST_PG_PORT:-55432}"
redis_port="${DD0C_TEST_REDIS_PORT:-56379}"
smtp_port="${DD0C_TEST_SMTP_PORT:-52525}"
moto_port="${DD0C_TEST_MOTO_PORT:-55500}"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/dd0c-test-venv"
pids=()

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

# Waits until something listens on 127.0.0.1:$1, for at most 20 s.
wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  say "nothing listens on port $1 (see $2)"
  exit 1
}

start_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing Redis from Debian's packages"
    apt_install redis-server
  fi
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    >"$state/redis.log" 2>&1 &
  pids+=($!)
  wait_port "$redis_port" "$state/redis.log"
  export DD0C_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
  say "Redis on 127.0.0.1:$redis_port"
}

# The virtualenv with aiosmtpd, moto, schemathesis, cfn-lint, standardwebhooks and
# opentelemetry-proto, made or completed when something is missing.
python_tools() {
  if ! "$venv/bin/python" -c "import aiosmtpd, moto, schemathesis, cfnlint, standardwebhooks, opentelemetry.proto" >/dev/null 2>&1; then
    say "installing aiosmtpd, moto[server], schemathesis, cfn-lint, standardwebhooks and opentelemetry-proto from PyPI into $venv"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" || { apt_install python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q 'aiosmtpd>=1.4' 'moto[server]==5.2.6' 'schemathesis==4.32.5' 'cfn-lint==1.58.0' 'standardwebhooks==1.1.0' 'opentelemetry-proto==1.45.2'
  fi
  # The notify tests verify webhook signatures with standardwebhooks in it; the telemetry tests
  # receive traces with opentelemetry-proto in it.
  export DD0C_TEST_PYTHON="$venv/bin/python"
  # The API's OpenAPI test runs it against `dd0c-cost serve`.
  export DD0C_TEST_SCHEMATHESIS="$venv/bin/schemathesis"
  export DD0C_TEST_CFN_LINT="$venv/bin/cfn-lint"
}

# infra-cdk's packages, and its stack synthesized offline (with placeholder binaries) for the
# deploy test.
infra_cdk() {
  if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm from Debian's packages"
    apt_install nodejs npm
  fi
  (cd infra-cdk && npm ci --no-audit --no-fund --loglevel=error)
  local bin
  for bin in lambda-ingest lambda-score lambda-notify lambda-digest lambda-zombie lambda-actions lambda-api lambda-catalog; do
    mkdir -p "$state/lambda/$bin"
    printf '#!/bin/sh\n' >"$state/lambda/$bin/bootstrap"
  done
  (cd infra-cdk && npx cdk synth --quiet --no-notices --output "$state/cdk.out" \
    -c lambdaDir="$state/lambda" >"$state/cdk-synth.log" 2>&1) \
    || { cat "$state/cdk-synth.log" >&2; exit 1; }
  export DD0C_TEST_CDK_TEMPLATE="$state/cdk.out/Dd0cCost.template.json"
  say "infra-cdk synthesized into $state/cdk.out"
}

# The dashboard's packages and its build, which the end-to-end tests serve; Chromium for them.
dashboard() {
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Chromium from Debian's packages"
    apt_install chromium
  fi
  (cd dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run build >"$state/dashboard-build.log" 2>&1) \
    || { cat "$state/dashboard-build.log" >&2; exit 1; }
  say "dashboard built into dashboard/dist"
}

start_moto() {
  MOTO_PORT="$moto_port" "$venv/bin/python" scripts/moto_serial.py 127.0.0.1 "$moto_port" >"$state/moto.log" 2>&1 &
  pids+=($!)
  wait_port "$moto_port" "$state/moto.log"
  export DD0C_TEST_AWS_ENDPOINT="http://127.0.0.1:$moto_port"
  say "moto on 127.0.0.1:$moto_port"
}

start_smtp() {
  local maildir="$state/maildir"
  mkdir -p "$maildir/tmp" "$maildir/new" "$maildir/cur"
  "$venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$maildir" \
    >"$state/smtp.log" 2>&1 &
  pids+=($!)
  wait_port "$smtp_port" "$state/smtp.log"
  export DD0C_TEST_SMTP_URL="smtp://127.0.0.1:$smtp_port?tls=none"
  export DD0C_TEST_MAILDIR="$maildir"
  say "SMTP (aiosmtpd) on 127.0.0.1:$smtp_port, mail in $maildir"
}

# Stops PostgreSQL and removes its cluster, the test databases; a second call does nothing.
stop_postgres() {
  if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  PG_STOP=()
  rm -rf "$state/pg"
}

stop_services() {
  stop_postgres
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pids=()
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap stop_services EXIT

# What a clean run writes (the build under target/, the test databases under /tmp, the compose
# test's images under Docker's data root) takes most of this many gigabytes; a machine with less
# free fails late, in whichever step fills it first, so it is said at the start.
disk_needed_gb=16
disk_report() {
  local dir free
  for dir in "$PWD" /tmp /var/lib; do
    free=$(df -P -BG "$dir" | awk 'NR == 2 { sub("G", "", $4); print $4 }')
    say "disk: ${free} GB free for $dir"
    if [ "$free" -lt "$disk_needed_gb" ]; then
      say "warning: a clean run writes up to $disk_needed_gb GB (target/, test databases, images): $dir may fill up"
    fi
  done
}
disk_report

# A test run builds each crate once: incremental compilation's state (gigabytes under
# target/debug/incremental) would only serve an edit-and-rebuild loop. CARGO_INCREMENTAL=1 keeps it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Build before starting the services, so that they live only as long as the tests use them.
cargo test --workspace --locked --features dd0c-cost/aws --no-run
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1
infra_cdk
dashboard

start_postgres
start_redis
python_tools
start_smtp
start_moto

if [ $# -eq 0 ] || [ "$1" = cdk ]; then
  (cd infra-cdk && npx vitest run)
fi
if [ $# -eq 0 ] || [ "$1" = ui ]; then
  export DD0C_COST_BIN="$PWD/target/debug/dd0c-cost"
  (cd dashboard && npx vitest run && npm run --silent e2e && npm run --silent bench)
fi
cargo test --workspace --locked --features dd0c-cost/aws -- "$@"
# The deployment brings its own Postgres (it uses our moto): ours, and the test databases' disk
# space, are let go before its images are built.
stop_postgres
if [ $# -eq 0 ] || [ "$1" = compose ]; then
  DD0C_COST_BIN="$PWD/target/debug/dd0c-cost" DD0C_AGENT_BIN="$PWD/target/debug/dd0c-agent" \
    tests/compose/run.sh
fi
