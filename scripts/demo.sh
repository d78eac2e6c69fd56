#!/usr/bin/env bash
# The README's run command: builds the dashboard when it is missing or older than its sources
# (installing Node.js and npm from Debian's packages when they are missing), then runs
# `dd0c-cost serve --demo` with it: the bundled sample scored on the embedded store, the
# dashboard at http://127.0.0.1:8080/ and a demo sign-in printed. Arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "scripts/demo.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo >/dev/null 2>&1; then
  say "cargo not found; install Rust (https://rustup.rs) first"
  exit 1
fi

stale() {
  [ ! -f dashboard/dist/index.html ] \
    || [ -n "$(find dashboard/src dashboard/index.html dashboard/openapi.json dashboard/package-lock.json \
      -newer dashboard/dist/index.html -print -quit)" ]
}

if stale; then
  if ! command -v npm >/dev/null 2>&1; then
    say "installing Node.js and npm from Debian's packages (for the dashboard)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
  fi
  say "building the dashboard (npm ci && npm run build in dashboard/)"
  (cd dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build >/dev/null)
fi

exec cargo run --release -p dd0c-cost -- serve --demo "$@"
