#!/usr/bin/env bash
# Builds the pinned Helm CLI from its Go module into the cache the control plane uses (outside the
# repo), for the chart tests (tests/helm_*.rs). Idempotent: a binary that reports the pinned
# version is not rebuilt.
#
# Usage: tests/control-plane/helm.sh [--print-path] [--help]
# The last line of output is the helm binary's path (what the Rust tests run).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$SCRIPT_DIR/versions.env"

# shellcheck source=tool-lib.sh
source "$SCRIPT_DIR/tool-lib.sh"
TOOL_VERSION="${HELM_VERSION}"
tool_setup helm helm "$@"
HELM="$TOOL_BIN"

command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH. Install Go >= 1.26 from https://go.dev/dl/"

works() {
  # Capture first: see build.sh's works() on SIGPIPE.
  local out
  [[ -x "$HELM" ]] && out=$("$HELM" version --short 2>/dev/null) && [[ "$out" == "${HELM_VERSION}"* ]]
}

tool_lock_or_done

TMP_DIR=""
cleanup() { if [[ -n "$TMP_DIR" ]]; then rm -rf "$TMP_DIR"; fi; }
trap cleanup EXIT
TMP_DIR="$(mktemp -d "$BIN_DIR/.build.XXXXXX")"

export CGO_ENABLED=0
# A private build cache, removed after a successful build (as build.sh does): it would only be
# reused by a version bump. Modules stay in GOMODCACHE.
export GOCACHE="$BIN_DIR/.go-build"
log "building helm.sh/helm/v4/cmd/helm@${HELM_VERSION} (a cold build takes minutes) ..."
start=$SECONDS
# `go install module@version` builds with the module's own go.mod, exactly as released; the
# -X sets what `helm version` reports (release builds do the same).
GOBIN="$TMP_DIR" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}" \
  "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}" \
  || die "go install failed (see the output above)"
mv -f "$TMP_DIR/helm" "$HELM"
works || die "built binary does not report ${HELM_VERSION} from 'helm version --short'"
rm -rf "$GOCACHE"
log "built in $((SECONDS - start))s ($(du -h "$HELM" | cut -f1))"
echo "$HELM"
