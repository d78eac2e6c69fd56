#!/usr/bin/env bash
# The self-hosted deployment brought up for real (`scripts/test.sh compose`): install.sh on the
# local Docker engine, then tests/compose/scenario.py through caddy only.
#
# What the machine lacks is made here, from Debian's packages: the Docker engine (docker.io,
# docker-compose; dockerd is started with overlay2, else vfs, and no bridge when none answers), a
# debian:bookworm-slim base (debootstrap, cached as a tarball under ~/.cache/dd0c-compose), and
# stand-ins for the registry's postgres, redis and caddy (tests/compose/standins). Our images are
# built from the Dockerfile with the binaries and dashboard compiled on the host:
# DD0C_COST_BIN and DD0C_AGENT_BIN (default target/debug), dashboard/dist.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "tests/compose/run.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dd0c-compose"
state=$(mktemp -d /tmp/dd0c-compose.XXXXXX)
dockerd_started=""

# Fixed ports on loopback: the stack is one host's processes (network_mode: host).
export DD0C_TEST_HTTP_PORT="${DD0C_TEST_HTTP_PORT:-18080}"
export DD0C_BIND=127.0.0.1
# The scenario's Slack stand-in listens on loopback.
export DD0C_OUTBOUND_PRIVATE_HOSTS=127.0.0.1
# Below Linux's ephemeral range (32768-60999): the stack starts after the image builds opened
# thousands of outgoing connections, and one of them holding a port in that range as its own
# made Redis's bind fail once.
export DD0C_POSTGRES_HOST=127.0.0.1 DD0C_POSTGRES_PORT="${DD0C_TEST_COMPOSE_PG_PORT:-25433}"
export DD0C_REDIS_HOST=127.0.0.1 DD0C_REDIS_PORT="${DD0C_TEST_COMPOSE_REDIS_PORT:-26380}"
export DD0C_API_UPSTREAM=127.0.0.1:8080 DD0C_INGESTION_UPSTREAM=127.0.0.1:8081
export DD0C_INGESTION_GRPC_UPSTREAM=127.0.0.1:4317 DD0C_DASHBOARD_UPSTREAM=127.0.0.1:8082
export DD0C_POSTGRES_IMAGE=dd0c-test/postgres DD0C_REDIS_IMAGE=dd0c-test/redis
export DD0C_CADDY_IMAGE=dd0c-test/caddy DD0C_IMAGE=dd0c-test/dd0c-cost
export DD0C_DASHBOARD_IMAGE=dd0c-test/dd0c-dashboard
# On the host's network nothing is published (Compose refuses ports there): the deployment's file
# without caddy's ports section, beside it so its relative paths hold, then the override.
hostnet=docker-compose.test-hostnet.yml
export COMPOSE_FILE="$hostnet:tests/compose/docker-compose.test.yml"

engine() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1 \
    || ! command -v debootstrap >/dev/null 2>&1; then
    say "installing docker.io, docker-compose and debootstrap from Debian's packages"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io docker-compose debootstrap >/dev/null
  fi
  if docker info >/dev/null 2>&1; then
    say "using the Docker engine that answers"
    return
  fi
  # overlay2 shares image layers between images and containers; vfs, which works on any file
  # system, copies the whole root file system per layer and per container (many gigabytes for
  # this test): overlay2 where the kernel and the file system allow it, else vfs.
  for driver in overlay2 vfs; do
    if start_dockerd "$driver"; then
      say "dockerd started ($driver, no bridge: containers use the host's network)"
      return
    fi
  done
  exit 1
}

# Starts dockerd with the storage `driver`; false (dockerd stopped, its log shown) when it
# does not answer or cannot run a container with it.
start_dockerd() {
  local driver="$1"
  # Its own pid file: the job's pid is a shell's (as_root), which a kill would not pass on.
  as_root dockerd --storage-driver="$driver" --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$state/dockerd.pid" >"$state/dockerd-$driver.log" 2>&1 &
  dockerd_started=1
  for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
      [ "$(docker info --format '{{.Driver}}' 2>/dev/null)" = "$driver" ] && return 0
      break
    fi
    # dockerd gave up (the driver is not supported here).
    [ -s "$state/dockerd.pid" ] && ! as_root kill -0 "$(cat "$state/dockerd.pid")" 2>/dev/null && break
    sleep 1
  done
  say "dockerd with $driver did not start:"
  tail -n 5 "$state/dockerd-$driver.log" >&2
  stop_dockerd
  return 1
}

stop_dockerd() {
  [ -s "$state/dockerd.pid" ] || return 0
  local pid
  pid=$(cat "$state/dockerd.pid")
  rm -f "$state/dockerd.pid"
  as_root kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do
    as_root kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
}

base_tar=bookworm-minbase-slim.tar

base_image() {
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then return; fi
  if [ ! -s "$cache/$base_tar" ]; then
    say "debootstrap bookworm (minbase) into $cache"
    mkdir -p "$cache"
    as_root debootstrap --variant=minbase bookworm "$state/root" http://deb.debian.org/debian \
      >"$state/debootstrap.log" 2>&1 || { tail -n 20 "$state/debootstrap.log" >&2; exit 1; }
    # Under vfs every layer and container is a whole root file system: what no
    # image here needs (package lists and archives, translations, manuals) would be copied
    # dozens of times. Images that install packages run apt-get update themselves.
    as_root rm -rf "$state/root/var/lib/apt/lists" "$state/root/var/cache/apt" \
      "$state/root/usr/share/locale" "$state/root/usr/share/doc" "$state/root/usr/share/man"
    as_root install -d "$state/root/var/lib/apt/lists/partial" "$state/root/var/cache/apt/archives/partial"
    as_root tar -C "$state/root" -cf "$cache/$base_tar" .
    as_root rm -rf "$state/root"
  fi
  docker import "$cache/$base_tar" debian:bookworm-slim >/dev/null
  say "imported debian:bookworm-slim"
}

without_published_ports() {
  python3 - docker-compose.yml "$hostnet" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
# The caddy service's "ports:" key and its list items.
text, n = re.subn(r"(\n  caddy:\n(?:    .*\n|\n)*?)    ports:\n(?:      - .*\n)+", r"\1", text)
assert n == 1, "docker-compose.yml: no ports section under caddy"
open(sys.argv[2], "w").write(text)
EOF
}

prebuilt() {
  local cost="${DD0C_COST_BIN:-target/debug/dd0c-cost}" agent="${DD0C_AGENT_BIN:-target/debug/dd0c-agent}"
  if [ ! -x "$cost" ] || [ ! -x "$agent" ]; then say "build first: $cost and $agent are missing"; exit 1; fi
  [ -f dashboard/dist/index.html ] || { say "build the dashboard first (dashboard/dist)"; exit 1; }
  mkdir -p docker/prebuilt
  # Without symbols or debug information: the images hold what runs, and every layer and
  # container may copy it (vfs).
  strip --strip-all -o docker/prebuilt/dd0c-cost "$cost"
  strip --strip-all -o docker/prebuilt/dd0c-agent "$agent"
}

finish() {
  local status=$?
  if [ "$status" != 0 ]; then
    say "failed; the services' last words:"
    docker-compose logs --no-color --tail=40 >&2 2>/dev/null || true
  fi
  ./install.sh --uninstall --purge >/dev/null 2>&1 || true
  # Each run builds new images; the old ones would pile up.
  docker image prune --force >/dev/null 2>&1 || true
  docker image rm dd0c-test/dd0c-cost:local dd0c-test/dd0c-dashboard:local >/dev/null 2>&1 || true
  rm -rf docker/prebuilt "$hostnet"
  if [ -n "$dockerd_started" ]; then
    stop_dockerd
    wait 2>/dev/null || true # the job ends when dockerd has stopped
  fi
  rm -rf "$state"
  exit "$status"
}
trap finish EXIT

engine
base_image
prebuilt
without_published_ports
[ ! -e .env ] || { say ".env exists here: this test installs from scratch and purges; move it away"; exit 1; }
python3 tests/compose/scenario.py --state "$state"
