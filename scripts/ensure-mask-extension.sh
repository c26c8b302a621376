#!/usr/bin/env bash
# Builds and installs the optional C keyed-hash mask (extension/gatehouse_mask) for the local
# PostgreSQL server at $PGHOST:$PGPORT (default 127.0.0.1:5432), so that `gatehouse db setup` can
# use it (docs/data-path.md, "Where the hash key lives"). Installs the Debian package
# postgresql-server-dev-<major> (PGXS) and libssl-dev with apt-get when they are missing. Idempotent:
# a stamp of the sources beside the installed control file makes a second run a no-op (well under a
# second). Never fails the caller for a missing capability (no apt, no root, no server): it says
# why on standard error and exits 0; the tests that need the extension then fail under CI=true
# naming this script. Used by .ci/run and the README's test setup.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'ensure-mask-extension: %s\n' "$*" >&2; }
give_up() {
  log "$*"
  log "the C mask is NOT installed; Gatehouse keeps the PL/pgSQL mask functions (slower, same hashes)"
  exit 0
}

src=extension/gatehouse_mask
host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"

if ! major="$(psql -X -At -h "$host" -p "$port" -U "${PGUSER:-postgres}" -d postgres \
  -c "SELECT current_setting('server_version_num')::int / 10000" 2>/dev/null)"; then
  give_up "no PostgreSQL answers at $host:$port (run scripts/ensure-postgres.sh first)"
fi
pg_config="/usr/lib/postgresql/$major/bin/pg_config"

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    give_up "installing into PostgreSQL's directories needs root (or passwordless sudo)"
  fi
fi

missing=()
# pg_config and pgxs.mk come with Debian's postgresql-client-<major>; the server headers PGXS compiles
# against (postgres.h) only with postgresql-server-dev-<major>: check both.
if [[ ! -x "$pg_config" ]] || [[ ! -f "$("$pg_config" --pgxs 2>/dev/null || echo /nonexistent)" ]] ||
  [[ ! -f "$("$pg_config" --includedir-server 2>/dev/null || echo /nonexistent)/postgres.h" ]]; then
  missing+=("postgresql-server-dev-$major")
fi
if [[ ! -f /usr/include/openssl/sha.h ]]; then missing+=(libssl-dev); fi
if ! command -v make >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then missing+=(make gcc); fi
if ((${#missing[@]} > 0)); then
  if ! command -v apt-get >/dev/null 2>&1; then
    give_up "missing ${missing[*]} (PGXS for PostgreSQL $major) and there is no apt-get here; install them by hand"
  fi
  log "installing ${missing[*]} (apt-get)..."
  started=$SECONDS
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
  if ! "${sudo_cmd[@]}" apt-get update -qq >"$out" 2>&1 ||
    ! DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$out" 2>&1; then
    cat "$out" >&2
    give_up "apt-get failed; install by hand: apt-get install -y ${missing[*]}"
  fi
  log "installed ${missing[*]} in $((SECONDS - started))s"
fi

stamp_file="$("$pg_config" --sharedir)/extension/gatehouse_mask.source-sha256"
stamp="$( (cat "$src"/Makefile "$src"/*.c "$src"/*.h "$src"/gatehouse_mask.control "$src"/gatehouse_mask--*.sql; echo "$major") | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" && -f "$("$pg_config" --pkglibdir)/gatehouse_mask.so" ]]; then
  log "gatehouse_mask is installed for PostgreSQL $major (sources unchanged)"
  exit 0
fi

log "building gatehouse_mask for PostgreSQL $major (PGXS)..."
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cp "$src"/Makefile "$src"/*.c "$src"/*.h "$src"/gatehouse_mask.control "$src"/gatehouse_mask--*.sql "$build"/
if ! make -s -C "$build" PG_CONFIG="$pg_config" >"$build/make.log" 2>&1; then
  cat "$build/make.log" >&2
  log "the build failed (output above)"
  exit 1
fi
"${sudo_cmd[@]}" make -s -C "$build" PG_CONFIG="$pg_config" install >&2
printf '%s\n' "$stamp" | "${sudo_cmd[@]}" tee "$stamp_file" >/dev/null
log "installed gatehouse_mask into $("$pg_config" --pkglibdir) (CREATE EXTENSION is run by 'gatehouse db setup')"
