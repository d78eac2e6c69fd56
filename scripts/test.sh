#!/usr/bin/env bash
# Runs every test of dd0c/cost from a clean clone. Arguments are passed to the test runner as a
# name filter: `scripts/test.sh parity` runs only tests whose names contain "parity".
#
# The suite needs no external service yet: the normalizer and scorer tests run on the memory
# adapters. When adapters for Postgres, moto or Redis land, this script installs and starts them
# on loopback before the suite and stops them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

cargo test --workspace --locked -- "$@"
