#!/usr/bin/env bash
# Makes sure the pinned OPA CLI is installed (builds it with `go install` when missing or a
# different version) and prints its absolute path on the last line of standard output.
# Progress goes to standard error so callers can capture the path: OPA=$(scripts/ensure-opa.sh)
set -euo pipefail

OPA_VERSION="${GATEHOUSE_OPA_VERSION:-1.22.2}"
OPA_MODULE="github.com/open-policy-agent/opa"

log() { printf 'ensure-opa: %s\n' "$*" >&2; }

# Prints the version an `opa` binary reports, or nothing when it does not run.
opa_version_of() {
  # awk consumes the whole output (no early exit), so pipefail never sees a SIGPIPE.
  "$1" version 2>/dev/null | awk '/^Version:/ && !seen { print $2; seen = 1 }'
}

candidates=()
if [[ -n "${GATEHOUSE_OPA:-}" ]]; then candidates+=("$GATEHOUSE_OPA"); fi
if command -v opa >/dev/null 2>&1; then candidates+=("$(command -v opa)"); fi
gobin=""
if command -v go >/dev/null 2>&1; then
  gobin="$(go env GOBIN)"
  if [[ -z "$gobin" ]]; then gobin="$(go env GOPATH)/bin"; fi
  candidates+=("$gobin/opa")
else
  candidates+=("${HOME:-/root}/go/bin/opa") # Go's default GOPATH, in case go itself is off PATH
fi

for candidate in "${candidates[@]}"; do
  if [[ -x "$candidate" ]]; then
    found="$(opa_version_of "$candidate")"
    if [[ "$found" == "$OPA_VERSION" ]]; then
      log "OPA CLI v$OPA_VERSION found at $candidate"
      printf '%s\n' "$candidate"
      exit 0
    fi
    log "ignoring $candidate (version '${found:-unknown}', want $OPA_VERSION)"
  fi
done

if [[ -z "$gobin" ]]; then
  log "OPA CLI v$OPA_VERSION is not installed and Go is not on PATH to build it."
  log "Install Go (https://go.dev/dl/) or put opa v$OPA_VERSION on PATH (or set GATEHOUSE_OPA)."
  exit 1
fi

# Measured on this kind of machine with empty Go caches: ~84 modules to download, ~770 packages to
# compile (fewer when Go's build cache already has the standard library); 74 s on 2 idle cores,
# 11-19 minutes on a busy one. `go install -v` names each package it compiles: that is the progress.
OPA_MODULES_ESTIMATE=84
OPA_PACKAGES_ESTIMATE=770
PROGRESS_EVERY=15

log "building OPA CLI v$OPA_VERSION with go install (once): about 1-3 minutes on idle cores, up to"
log "15-20 minutes on a busy machine; progress every ${PROGRESS_EVERY}s. Only needed for Rego policies other"
log "than the shipped examples, which come precompiled (gateway/prebuilt/)."
started=$SECONDS
output="$(mktemp)"
trap 'rm -f "$output"' EXIT
go install -v "$OPA_MODULE@v$OPA_VERSION" 2>"$output" &
pid=$!
compile_started=""
next=$((SECONDS + PROGRESS_EVERY))
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  (( SECONDS >= next )) || continue
  next=$((SECONDS + PROGRESS_EVERY))
  elapsed=$((SECONDS - started))
  downloaded="$(grep -c '^go: downloading' "$output" || true)"
  compiled="$(grep -vc '^go: ' "$output" || true)"
  if (( compiled == 0 )); then
    log "downloading modules: $downloaded of ~$OPA_MODULES_ESTIMATE (${elapsed}s elapsed)"
    continue
  fi
  compile_started="${compile_started:-$((SECONDS - PROGRESS_EVERY))}"
  done_so_far=$(( compiled < OPA_PACKAGES_ESTIMATE ? compiled : OPA_PACKAGES_ESTIMATE - 1 ))
  spent=$((SECONDS - compile_started))
  left=$(( spent * (OPA_PACKAGES_ESTIMATE - done_so_far) / done_so_far ))
  log "compiling: $compiled of ~$OPA_PACKAGES_ESTIMATE packages ($(( done_so_far * 100 / OPA_PACKAGES_ESTIMATE ))%), ${elapsed}s elapsed, about $(( (left + 59) / 60 )) min left"
done
if ! wait "$pid"; then
  grep -v '^go: downloading' "$output" | tail -n 20 >&2 || true
  log "go install failed after $((SECONDS - started))s"
  exit 1
fi
log "built in $((SECONDS - started))s"

built="$gobin/opa"
found="$(opa_version_of "$built")"
if [[ "$found" != "$OPA_VERSION" ]]; then
  log "go install finished but $built reports version '${found:-unknown}', want $OPA_VERSION"
  exit 1
fi
log "OPA CLI v$OPA_VERSION installed at $built"
printf '%s\n' "$built"
