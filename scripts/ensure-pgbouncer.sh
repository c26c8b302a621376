#!/usr/bin/env bash
# Makes sure PgBouncer (Debian's `pgbouncer`) is installed: `gatehouse bench` starts one as the
# reference Gatehouse's throughput and CPU are compared with (gateway/src/bench/pgbouncer.ts).
# Installs it when missing (root, or passwordless sudo), says what it did on standard error, and
# exits 1 with the command to run by hand otherwise. Only the package: the bench writes its own
# config and never uses the system service.
set -euo pipefail

log() { printf 'ensure-pgbouncer: %s\n' "$*" >&2; }

if command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]]; then
  log "pgbouncer is installed"
  exit 0
fi

apt=(apt-get)
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo -n apt-get)
  else
    log "pgbouncer is missing, and installing it needs root: apt-get install -y pgbouncer"
    exit 1
  fi
fi
log "installing pgbouncer (apt-get)..."
started=$SECONDS
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends pgbouncer >"$out" 2>&1; then
  # The package lists may be stale or absent: update once and retry.
  if ! "${apt[@]}" update -qq >>"$out" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends pgbouncer >>"$out" 2>&1; then
    cat "$out" >&2
    log "apt-get failed; install by hand: apt-get install -y pgbouncer"
    exit 1
  fi
fi
log "installed pgbouncer in $((SECONDS - started))s"
