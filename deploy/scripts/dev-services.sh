#!/usr/bin/env bash
# Makes sure what the tests need is here: a PostgreSQL server on 127.0.0.1:5432 that the
# `postgres` user can reach without a password, and the nats-server binary (tests start their
# own JetStream servers on free ports). A server already running is used as it is; what is
# missing is installed (Debian packages, as root) and started.
set -euo pipefail

PG_PORT=${PG_PORT:-5432}
log() { printf 'dev-services: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_install() {
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null
  fi
}

ensure_postgres() {
  if pg_up; then
    log "PostgreSQL is running on 127.0.0.1:$PG_PORT"
    return
  fi
  local fresh=0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
    fresh=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$fresh" -eq 1 ]; then
    # Tests connect as postgres over TCP without a password, on loopback only.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do pg_up && return; sleep 0.2; done
  log "PostgreSQL did not come up on 127.0.0.1:$PG_PORT"
  exit 1
}

ensure_nats() {
  if command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || [ -n "${NATS_SERVER_BIN:-}" ]; then
    log "nats-server is installed"
    return
  fi
  apt_install nats-server
}

ensure_postgres
ensure_nats
