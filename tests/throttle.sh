#!/usr/bin/env bash
# Runs a command stopped STOP seconds out of every STOP+RUN (SIGSTOP/SIGCONT), as a CPU quota
# throttles a container on a busy CI runner, and exits with its status. A test that passes only
# when its process is never held still for a second asserts a time. Example:
#   tests/throttle.sh 1.5 0.2 target/debug/deps/webhook_namespaces-<hash>
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 STOP_SECONDS RUN_SECONDS command [args...]" >&2
  exit 2
fi
stop=$1
run=$2
shift 2
"$@" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep "$run"
  kill -STOP "$pid" 2>/dev/null
  sleep "$stop"
  kill -CONT "$pid" 2>/dev/null
done
wait "$pid"
