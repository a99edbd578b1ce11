# Sourced by the tool installers (helm.sh, hadolint.sh): their shared argument handling, cache
# layout, logging and the locked "already installed?" check. Not run on its own.

# tool_setup NAME BINARY "$@": parses --print-path/--help, sets BIN_DIR and TOOL_BIN, and with
# --print-path prints TOOL_BIN and exits. NAME's cache dir is NAME-<version> (TOOL_VERSION).
tool_setup() {
  TOOL_NAME="$1"
  local binary="$2" print_path=0 arg
  shift 2
  for arg in "$@"; do
    case "$arg" in
      --print-path) print_path=1 ;;
      # The script's own header comment, up to its first code line, is its help.
      -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
      *) echo "$TOOL_NAME.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
  done
  # Same rule as tests/support/tools.rs: keep the two in step.
  local tools_root="${XDG_CACHE_HOME:-$HOME/.cache}/kube-guardian/tools"
  BIN_DIR="$tools_root/$TOOL_NAME-${TOOL_VERSION}"
  TOOL_BIN="$BIN_DIR/$binary"
  if [[ $print_path == 1 ]]; then
    echo "$TOOL_BIN"
    exit 0
  fi
}

log() { echo "[$TOOL_NAME] $*" >&2; }
die() { echo "[$TOOL_NAME] error: $*" >&2; exit 1; }

# Takes the cache dir's lock (held until the script exits, so concurrent test runs install
# once), then exits at once when the caller's works() says the pinned binary is there.
tool_lock_or_done() {
  mkdir -p "$BIN_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$BIN_DIR/.lock"
    flock 9
  fi
  if works; then
    log "present ($TOOL_BIN), skipping"
    echo "$TOOL_BIN"
    exit 0
  fi
}
