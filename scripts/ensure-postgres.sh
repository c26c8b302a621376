#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at $PGHOST:$PGPORT (default 127.0.0.1:5432): when it
# does not, starts the local Debian cluster (pg_ctlcluster) and waits until it accepts connections.
set -euo pipefail

host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"
wait_seconds="${GATEHOUSE_PG_WAIT_SECONDS:-60}"

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }

if pg_isready -q -h "$host" -p "$port"; then
  log "PostgreSQL is accepting connections at $host:$port"
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
  log "nothing answers at $host:$port and there is no local Debian cluster to start."
  log "Start PostgreSQL yourself (trust auth for user postgres on $host:$port) and retry."
  exit 1
fi

# One cluster named "main" per installed major version; start the newest.
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
log "starting local cluster $version/main..."
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for ((i = 0; i < wait_seconds; i++)); do
  if pg_isready -q -h "$host" -p "$port"; then
    log "PostgreSQL $version is accepting connections at $host:$port"
    exit 0
  fi
  sleep 1
done
log "PostgreSQL did not become ready at $host:$port within ${wait_seconds}s"
exit 1
