#!/bin/sh
# Installs, upgrades or removes self-hosted dd0c/cost with Docker Compose (docs/self-hosted.md).
#
#   ./install.sh [--domain dd0c.example.com] [--tenant acme] [--admin-email you@example.com]
#   ./install.sh                 again: upgrade (rebuild, migrate, restart), data kept
#   ./install.sh --uninstall     stop and remove the containers, keep the data volumes
#   ./install.sh --uninstall --purge   remove the data volumes and .env too
#
# The first run writes .env (mode 0600) with generated secrets and never overwrites it; it then
# builds the images, starts the stack, waits until every service is healthy, and creates the
# first tenant and its admin, printing the dashboard's address and the admin's password.
set -eu

cd "$(dirname "$0")"

domain="${DD0C_DOMAIN:-}"
tenant="${DD0C_TENANT:-}"
admin_email="${DD0C_ADMIN_EMAIL:-}"
build=yes
uninstall=no
purge=no
wait_seconds="${DD0C_INSTALL_WAIT_SECONDS:-600}"

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'
Options:
  --domain NAME        serve NAME with automatic HTTPS (default: plain HTTP on port 80)
  --tenant NAME        the first tenant (default: prompt, else "default")
  --admin-email EMAIL  its admin's e-mail (default: prompt, else admin@example.com)
  --no-build           use images already built or loaded (DD0C_IMAGE, DD0C_TAG in .env)
  --uninstall          remove the containers (volumes kept)
  --purge              with --uninstall: remove the volumes (every anomaly, the database)
                       and .env
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --domain) domain="${2:?--domain needs a name}"; shift 2 ;;
    --tenant) tenant="${2:?--tenant needs a name}"; shift 2 ;;
    --admin-email) admin_email="${2:?--admin-email needs an address}"; shift 2 ;;
    --no-build) build=no; shift ;;
    --uninstall) uninstall=yes; shift ;;
    --purge) purge=yes; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done
[ "$purge" = no ] || [ "$uninstall" = yes ] || die "--purge goes with --uninstall"

# Docker and Compose: the v2 plugin (`docker compose`) or v1 (`docker-compose`).
check_docker() {
  command -v docker >/dev/null 2>&1 \
    || die "Docker is not installed: see https://docs.docker.com/engine/install/ (Debian: apt-get install docker.io)"
  docker info >/dev/null 2>&1 \
    || die "the Docker engine does not answer: is dockerd running, and may this user use it (group docker)?"
  if docker compose version >/dev/null 2>&1; then
    compose_v2=yes
  elif command -v docker-compose >/dev/null 2>&1; then
    compose_v2=no
  else
    die "Docker Compose is missing: install the compose plugin (docker-compose-plugin) or docker-compose"
  fi
}

compose() {
  if [ "$compose_v2" = yes ]; then docker compose "$@"; else docker-compose "$@"; fi
}

# N (default 32) random bytes as hex.
secret() { od -An -N"${1:-32}" -tx1 /dev/urandom | tr -d ' \n'; }

# NAME's value in .env (Compose's format, not the shell's: read, never sourced).
env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }

# .env once: generated secrets, never overwritten (the database and sealed keys depend on them).
write_env() {
  if [ -f .env ]; then
    say "keeping .env"
    kept=$(env_value DD0C_DOMAIN)
    if [ -n "$domain" ] && [ "$domain" != "$kept" ]; then
      say "--domain $domain is not applied: .env is never rewritten; set DD0C_DOMAIN there and run ./install.sh again"
    fi
    return
  fi
  (
    umask 077
    cat >.env <<EOF
# Written by install.sh on $(date -u +%Y-%m-%d). Keep it with your backups: DD0C_SECRETS_KEY
# seals customer access keys in the database, and the passwords are the database's.
COMPOSE_PROJECT_NAME=dd0c
DD0C_DOMAIN=${domain}
DD0C_JWT_SECRET=$(secret)
DD0C_SECRETS_KEY=$(secret)
DD0C_METRICS_TOKEN=$(secret)
POSTGRES_PASSWORD=$(secret)
DD0C_APP_PASSWORD=$(secret)
# Mail and Slack (see docs/self-hosted.md), e.g.:
# DD0C_SMTP_URL=smtp://user:password@smtp.example.com:587?tls=required   (smtps://…:465: implicit TLS)
# DD0C_MAIL_FROM=dd0c <dd0c@example.com>
# DD0C_SLACK_SIGNING_SECRET=
# Webhook URLs must be https to public hosts; private ones allowed anyway (an in-house relay):
# DD0C_OUTBOUND_PRIVATE_HOSTS=relay.internal
EOF
  )
  chmod 600 .env
  say "wrote .env with new secrets (mode 0600)"
}

# Every container of the project healthy, or what is not after the wait.
wait_healthy() {
  deadline=$(($(date +%s) + wait_seconds))
  while :; do
    waiting=""
    for id in $(compose ps -q); do
      state=$(docker inspect --format '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      case "$state" in
        *" healthy") ;;
        *) waiting="$waiting ${state#/}" ;;
      esac
    done
    [ -n "$(compose ps -q)" ] || waiting="no containers"
    [ -z "$waiting" ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "not healthy after ${wait_seconds}s:$waiting"
      die "see \`docker compose logs\` (or docker-compose logs) for why"
    fi
    sleep 3
  done
}

# The first tenant and its admin, on the first install only (no tenant yet); the admin's
# password is printed once.
first_admin() {
  if ! tenants=$(compose exec -T api dd0c-cost tenant list); then
    die "could not list the tenants"
  fi
  if [ -n "$tenants" ]; then
    say "tenants exist ($(printf '%s' "$tenants" | tr '\n' ' ')): no new admin"
    return
  fi
  if [ -z "$tenant" ]; then
    tenant=default
    if [ -t 0 ]; then
      printf 'First tenant [default]: ' >&2
      read -r answer && [ -z "$answer" ] || tenant="$answer"
    fi
  fi
  compose exec -T api dd0c-cost tenant add "$tenant" >/dev/null || die "could not create the tenant $tenant"
  if [ -z "$admin_email" ]; then
    admin_email=admin@example.com
    if [ -t 0 ]; then
      printf "Admin's e-mail [admin@example.com]: " >&2
      read -r answer && [ -z "$answer" ] || admin_email="$answer"
    fi
  fi
  password=$(secret 18)
  printf '%s\n' "$password" \
    | compose exec -T api dd0c-cost user add --tenant "$tenant" --email "$admin_email" --role admin >/dev/null
  echo "tenant: $tenant"
  echo "admin: $admin_email"
  echo "password: $password"
}

# `--scale SERVICE=N` for each service running more than once, so an upgrade keeps the scale.
current_scale() {
  for service in $(compose config --services); do
    n=$(compose ps -q "$service" | wc -l)
    if [ "$n" -gt 1 ]; then printf ' --scale %s=%s' "$service" "$n"; fi
  done
}

dashboard_url() {
  site=$(env_value DD0C_DOMAIN)
  if [ -n "$site" ]; then
    echo "https://$site/"
  else
    echo "http://localhost:${DD0C_HTTP_PORT:-80}/"
  fi
}

check_docker
if [ "$uninstall" = yes ]; then
  if [ "$purge" = yes ]; then
    compose down --volumes --remove-orphans
    rm -f .env
    say "removed the containers, the volumes and .env"
  else
    compose down --remove-orphans
    say "removed the containers; the volumes (database, redis, archive, certificates) are kept"
  fi
  exit 0
fi
write_env
if [ "$build" = yes ]; then
  say "building the images"
  compose build
fi
say "starting (migrations run as the services start)"
scale=$(current_scale)
# shellcheck disable=SC2086 # one word per --scale flag
compose up -d --remove-orphans $scale
say "waiting for every service to be healthy"
wait_healthy
first_admin
echo "dashboard: $(dashboard_url)"
