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

log "building OPA CLI v$OPA_VERSION with go install (one-time, a few minutes)..."
started=$SECONDS
go install "$OPA_MODULE@v$OPA_VERSION" >&2
log "built in $((SECONDS - started))s"

built="$gobin/opa"
found="$(opa_version_of "$built")"
if [[ "$found" != "$OPA_VERSION" ]]; then
  log "go install finished but $built reports version '${found:-unknown}', want $OPA_VERSION"
  exit 1
fi
log "OPA CLI v$OPA_VERSION installed at $built"
printf '%s\n' "$built"
