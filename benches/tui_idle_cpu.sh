#!/usr/bin/env bash
# The console's CPU while nothing happens, with operators running (their Leases renew every 2 s):
# starts the demo headless (two local control planes, three operator replicas), opens
# `kube-guardian tui --contexts demo-a,demo-b` in a detached tmux session, waits until both
# clusters are Synced and settled, then reads the console's utime+stime from /proc/<pid>/stat
# over a window. A measurement, not a test: the figure goes into the README.
#
#   benches/tui_idle_cpu.sh [CONSOLE_BIN] [SECONDS]
#
# CONSOLE_BIN defaults to target/release/kube-guardian (build it with
# `cargo build --release --locked -p kube-guardian`); the operators run the same binary unless
# OPERATOR_BIN says otherwise; SCREEN=violations (a palette name) measures with that screen shown
# (default: the Fleet); SCALE=N adds N violating Deployments to demo-a's `shop` namespace first
# (their Pods too, made by kube-controller-manager), so each snapshot has more rows to derive. Needs tmux and the cached control plane
# (tests/control-plane/build.sh --with-controller-manager), and target/debug/demo
# (`cargo build -p guardian-testenv --bin demo`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
console=$(realpath "${1:-$root/target/release/kube-guardian}")
window=${2:-60}
operator=$(realpath "${OPERATOR_BIN:-$console}")
demo_bin=${DEMO_BIN:-$root/target/debug/demo}
dir=$(mktemp -d /tmp/tui-idle-cpu.XXXXXX)
session="tui-idle-cpu-$$"
demo_pid=""

cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    if [[ -n $demo_pid ]] && kill -0 "$demo_pid" 2>/dev/null; then
        kill -INT "$demo_pid"
        wait "$demo_pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

# The demo removes its own directory on exit: give it one inside ours.
"$demo_bin" --operator-bin "$operator" --no-console --dir "$dir/demo" >"$dir/demo.out" 2>&1 &
demo_pid=$!
for _ in $(seq 1 600); do
    grep -q "ready in" "$dir/demo.out" && break
    kill -0 "$demo_pid" || { cat "$dir/demo.out"; exit 1; }
    sleep 1
done
grep -q "ready in" "$dir/demo.out" || { echo "demo not ready"; cat "$dir/demo.out"; exit 1; }

if [[ ${SCALE:-0} -gt 0 ]]; then
    for i in $(seq 1 "$SCALE"); do
        cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle-$i, namespace: shop}
spec:
  selector: {matchLabels: {app: idle-$i}}
  template:
    metadata: {labels: {app: idle-$i}}
    spec:
      containers:
      - {name: c, image: "nginx:latest", securityContext: {privileged: true}}
YAML
    done | KUBECONFIG=$dir/demo/kubeconfig kubectl --context demo-a apply -f - >/dev/null
    # Until the rollout is over (kube-controller-manager makes a ReplicaSet and a Pod each, at
    # its client's 20 requests a second): the same Pod count 20 s apart, at least SCALE.
    pods() { KUBECONFIG=$dir/demo/kubeconfig kubectl --context demo-a get pods -n shop --no-headers | wc -l; }
    last=-1
    for _ in $(seq 1 60); do
        now=$(pods)
        [[ $now -ge $SCALE && $now -eq $last ]] && break
        last=$now
        sleep 20
    done
fi

tmux new-session -d -s "$session" -x 160 -y 48 \
    "KUBECONFIG=$dir/demo/kubeconfig exec $console tui --contexts demo-a,demo-b --log-file $dir/console.log"
pid=$(tmux list-panes -t "$session" -F '#{pane_pid}')
# Both header chips Synced (the header line only: the Fleet's rows say Synced too, so the
# whole screen would count one synced cluster twice), then a settling period (first tables,
# the operators' first reports).
synced_chips() { tmux capture-pane -p -t "$session" | head -n 1 | grep -o Synced | wc -l; }
for _ in $(seq 1 300); do
    [[ $(synced_chips) -ge 2 ]] && break
    sleep 1
done
[[ $(synced_chips) -ge 2 ]] || { echo "console never synced both clusters"; exit 1; }
if [[ -n ${SCREEN:-} ]]; then
    tmux send-keys -t "$session" : "$SCREEN" Enter
fi
sleep 30

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
sleep "$window"
after=$(ticks)
used=$((after - before))
awk -v t="$used" -v hz="$hz" -v w="$window" -v bin="$console" -v scr="${SCREEN:-fleet}" -v scale="${SCALE:-0}" 'BEGIN {
    printf "console %s (screen: %s, scale: %s) idle with operators running: %.2f s CPU (utime+stime) in %d s = %.2f%% of one core\n",
        bin, scr, scale, t / hz, w, 100 * t / hz / w
}'
