#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver, etcd, optionally kube-controller-manager) from the
# pinned Go modules in this directory into a per-version cache directory outside the repo.
# Idempotent: binaries that exist and answer --version are not rebuilt.
#
# Usage: tests/control-plane/build.sh [--with-controller-manager] [--print-dir] [--help]
# The last line of output is the binary directory (what the Rust harness looks in).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$SCRIPT_DIR/versions.env"

WITH_KCM=0
PRINT_DIR=0
for arg in "$@"; do
  case "$arg" in
    --with-controller-manager) WITH_KCM=1 ;;
    --print-dir) PRINT_DIR=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# Same rule as guardian-testenv's binary_dir(): keep the two in step.
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/kube-guardian/control-plane"
BIN_DIR="${KUBE_GUARDIAN_CONTROL_PLANE_DIR:-$CACHE_ROOT/${KUBERNETES_VERSION}-etcd${ETCD_VERSION#v}}"

if [[ $PRINT_DIR == 1 ]]; then
  echo "$BIN_DIR"
  exit 0
fi

log() { echo "[control-plane] $*" >&2; }
die() { echo "[control-plane] error: $*" >&2; exit 1; }

# versions.env drives the cache key, go.mod drives what is built: refuse to build if they disagree.
grep -q "k8s.io/kubernetes ${KUBERNETES_VERSION}\b" "$SCRIPT_DIR/go.mod" \
  || die "go.mod does not pin k8s.io/kubernetes ${KUBERNETES_VERSION} (versions.env); update one of them"
grep -q "go.etcd.io/etcd/server/v3 ${ETCD_VERSION}\b" "$SCRIPT_DIR/go.mod" \
  || die "go.mod does not pin go.etcd.io/etcd/server/v3 ${ETCD_VERSION} (versions.env); update one of them"

# Go: present and at least the version go.mod asks for.
command -v go >/dev/null 2>&1 \
  || die "Go is not installed or not on PATH. Install Go >= $(awk '/^go /{print $2}' "$SCRIPT_DIR/go.mod") from https://go.dev/dl/"
GO_REQUIRED="$(awk '/^go /{print $2}' "$SCRIPT_DIR/go.mod")"
# Run inside the module so GOTOOLCHAIN=auto (the default) may pick a newer toolchain on its own.
if ! GO_VERSION_RAW="$(cd "$SCRIPT_DIR" && go env GOVERSION 2>&1)"; then
  die "go cannot use this module (it requires Go >= $GO_REQUIRED): $GO_VERSION_RAW"
fi
GO_VERSION="${GO_VERSION_RAW#go}"
GO_VERSION="${GO_VERSION%% *}"
if [[ "$(printf '%s\n%s\n' "$GO_REQUIRED" "$GO_VERSION" | sort -V | head -n1)" != "$GO_REQUIRED" ]]; then
  die "Go $GO_VERSION is older than $GO_REQUIRED, which $SCRIPT_DIR/go.mod requires. Install a newer Go."
fi

mkdir -p "$BIN_DIR"
# Serialise concurrent builds (two test runs at once) on the same cache directory.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN_DIR/.lock"
  flock 9
fi

# binary name -> Go package, -ldflags, expected --version output
declare -A PKG=(
  [kube-apiserver]="k8s.io/kubernetes/cmd/kube-apiserver"
  [kube-controller-manager]="k8s.io/kubernetes/cmd/kube-controller-manager"
  [etcd]="go.etcd.io/etcd/server/v3"
)
K8S_MINOR="${KUBERNETES_VERSION#v1.}"; K8S_MINOR="${K8S_MINOR%%.*}"
# Without these the server reports v0.0.0-master.
K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${K8S_MINOR}"
declare -A LDFLAGS=(
  [kube-apiserver]="$K8S_LDFLAGS"
  [kube-controller-manager]="$K8S_LDFLAGS"
  [etcd]="-s -w"
)
declare -A WANT_VERSION=(
  [kube-apiserver]="Kubernetes ${KUBERNETES_VERSION}"
  [kube-controller-manager]="Kubernetes ${KUBERNETES_VERSION}"
  [etcd]="etcd Version: ${ETCD_VERSION#v}"
)

works() { # binary path, name
  # Capture first: `| grep -q` exits at the first match, the binary then dies of SIGPIPE
  # while printing its remaining lines, and pipefail turns that into a failure.
  local out
  [[ -x "$1" ]] && out=$("$1" --version 2>/dev/null) && grep -qF "${WANT_VERSION[$2]}" <<<"$out"
}

TMP_DIR=""
cleanup() { if [[ -n "$TMP_DIR" ]]; then rm -rf "$TMP_DIR"; fi; }
trap cleanup EXIT

# Static binaries, no C toolchain needed.
export CGO_ENABLED=0
# A private build cache under the lock, removed once every binary is built: Kubernetes leaves
# up to 5 GB of compiled packages behind, which only a version bump would reuse. A failed or
# interrupted build keeps it, so the next attempt resumes. Modules stay in GOMODCACHE.
GO_BUILD_CACHE="$BIN_DIR/.go-build"
export GOCACHE="$GO_BUILD_CACHE"

TARGETS=(kube-apiserver etcd)
[[ $WITH_KCM == 1 ]] && TARGETS+=(kube-controller-manager)

TOTAL_START=$SECONDS
for name in "${TARGETS[@]}"; do
  if works "$BIN_DIR/$name" "$name"; then
    log "$name: present ($BIN_DIR/$name), skipping"
    continue
  fi
  # Build next to the destination so the final mv is an atomic rename on one filesystem.
  TMP_DIR="$(mktemp -d "$BIN_DIR/.build-$name.XXXXXX")"
  log "$name: building ${PKG[$name]} (a cold build takes minutes) ..."
  start=$SECONDS
  (cd "$SCRIPT_DIR" && go build -trimpath -ldflags "${LDFLAGS[$name]}" -o "$TMP_DIR/$name" "${PKG[$name]}") \
    || die "$name: go build failed (see the output above)"
  works "$TMP_DIR/$name" "$name" \
    || die "$name: built binary does not report '${WANT_VERSION[$name]}' from --version"
  mv -f "$TMP_DIR/$name" "$BIN_DIR/$name"
  rm -rf "$TMP_DIR"; TMP_DIR=""
  log "$name: built in $((SECONDS - start))s ($(du -h "$BIN_DIR/$name" | cut -f1))"
done
rm -rf "$GO_BUILD_CACHE"
log "done in $((SECONDS - TOTAL_START))s"
echo "$BIN_DIR"
