#!/usr/bin/env bash
# Builds the Lambda binaries and lays them out as infra-cdk takes them:
# target/lambda/<binary>/bootstrap, one folder per function.
#
#   scripts/build-lambda.sh                      # for this machine's architecture
#   scripts/build-lambda.sh --target TRIPLE      # e.g. aarch64-unknown-linux-gnu, with its linker
#
# Lambda's provided.al2023 runtime has glibc 2.34: build on Amazon Linux 2023 (or in its
# container image), or for a musl target, so no binary asks for a newer glibc than Lambda has.
# Deploy with the matching architecture: `npx cdk deploy -c architecture=arm64` for aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(build --release --locked -p dd0c-lambda --bins)
dir=target/release
if [ "${1:-}" = --target ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 [--target TRIPLE]" >&2; exit 2; }
  args+=(--target "$2")
  dir="target/$2/release"
elif [ -n "${1:-}" ]; then
  echo "usage: $0 [--target TRIPLE]" >&2
  exit 2
fi
cargo "${args[@]}"
for bin in lambda-ingest lambda-score lambda-notify lambda-digest lambda-zombie lambda-actions lambda-api lambda-catalog; do
  mkdir -p "target/lambda/$bin"
  cp "$dir/$bin" "target/lambda/$bin/bootstrap"
done
echo "target/lambda: a bootstrap for each function, from $dir" >&2
