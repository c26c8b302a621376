#!/usr/bin/env bash
# Makes sure the real client drivers that gateway/test/clients-*.test.ts drive through Gatehouse
# are installed: psycopg 3 for /usr/bin/python3 (Debian python3-psycopg), the PostgreSQL JDBC
# driver (libpostgresql-jdbc-java) with a JDK that can run single-file programs, Debian's chromium
# (for the approval page's browser test), PgBouncer (scripts/ensure-pgbouncer.sh), and the Go
# modules of the pgx client (gateway/test/clients/pgx). Installs only what is missing, runs
# `apt-get update` at most once, and says what it did on standard error. Used by .ci/run and
# by the tests' global setup; fast (well under a second) when everything is there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'ensure-clients: %s\n' "$*" >&2; }

missing=()
if ! /usr/bin/python3 -c 'import psycopg' >/dev/null 2>&1; then missing+=(python3-psycopg); fi
if [[ ! -f /usr/share/java/postgresql.jar ]]; then missing+=(libpostgresql-jdbc-java); fi
# The approval page's browser test (gateway/test/approvals-page.test.ts) drives Debian's chromium
# with playwright-core, which downloads no browser of its own.
if ! command -v chromium >/dev/null 2>&1; then missing+=(chromium); fi
# `java File.java` (single-file source programs) needs the compiler module, i.e. a JDK.
if ! command -v java >/dev/null 2>&1 || ! java --list-modules 2>/dev/null | grep -c '^jdk.compiler@' >/dev/null; then
  missing+=(default-jdk-headless)
fi

if ((${#missing[@]} > 0)); then
  apt=(apt-get)
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      apt=(sudo -n apt-get)
    else
      log "missing ${missing[*]}, and installing them needs root: apt-get install -y ${missing[*]}"
      exit 1
    fi
  fi
  log "installing ${missing[*]} (apt-get)..."
  started=$SECONDS
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
  if ! "${apt[@]}" update -qq >"$out" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >>"$out" 2>&1; then
    cat "$out" >&2
    log "apt-get failed; install by hand: apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installed ${missing[*]} in $((SECONDS - started))s"
else
  log "psycopg 3, the PostgreSQL JDBC driver, a JDK and chromium are installed"
fi

# PgBouncer, the bench's reference (gateway/test/bench-pgbouncer.test.ts starts one).
bash scripts/ensure-pgbouncer.sh

# The pgx client's Go modules (pinned by its go.sum), so `go build` in the tests works offline.
if command -v go >/dev/null 2>&1; then
  started=$SECONDS
  if ! (cd gateway/test/clients/pgx && go mod download >&2); then
    log "go mod download failed in gateway/test/clients/pgx"
    exit 1
  fi
  if ((SECONDS - started > 1)); then log "downloaded the pgx client's Go modules in $((SECONDS - started))s"; fi
else
  log "Go is not on PATH: the pgx client test (gateway/test/clients-pgx.test.ts) needs it"
  exit 1
fi
