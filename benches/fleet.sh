#!/usr/bin/env bash
# benches/fleet.sh: the fleet-wide commands on a generated fleet against a
# parallel kubectl loop, measured in the same run (issue 14).
#
#   benches/fleet.sh [SHAPE]    (default 10x10x100: 10 clusters, 10 hubs each,
#                                100 user servers per hub = 10,000 pods)
#
# Starts `opsbot sim --synthetic SHAPE` (release), then REPS times each of:
#   kubectl loop   one `kubectl get pods -A -l component=singleuser-server
#                  --field-selector=status.phase=Pending` per cluster, all in
#                  parallel (what a person would script instead of opsbot)
#   pending all    `opsbot run --as sre "pending all"` (lists and explains)
#   fleet status   `opsbot run --as sre "fleet status"`
#   pending <hub>  one hub's `pending`
# and prints the median wall time and the peak RSS of each, with the ratios
# against the kubectl loop and against one hub's pending. Compare figures of
# one run only (the machine's load changes between runs).
# Env: REPS (default 5), OPSBOT (the binary; default target/release/opsbot).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shape=${1:-10x10x100}
reps=${REPS:-5}
bin=${OPSBOT:-$here/target/release/opsbot}
[ -n "${OPSBOT:-}" ] || (cd "$here" && cargo build --release --locked --bin opsbot)
command -v kubectl >/dev/null || { echo "needs kubectl (apt-get install kubernetes-client)" >&2; exit 1; }
work=$(mktemp -d /tmp/opsbot-fleet.XXXXXX)
"$bin" sim --synthetic "$shape" --write-config "$work/opsbot.yaml" \
  --listen 127.0.0.1:0 --kubeconfig "$work/kubeconfig" >"$work/sim.out" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
for _ in $(seq 1200); do [ -f "$work/kubeconfig" ] && break; sleep 0.1; done
[ -f "$work/kubeconfig" ] || { cat "$work/sim.out"; exit 1; }
head -1 "$work/sim.out"
hub=$(awk '/namespace: /{print $4; exit}' "$work/opsbot.yaml" | tr -d ,)
contexts=$(kubectl --kubeconfig "$work/kubeconfig" config get-contexts -o name)

kubectl_loop() {
  for c in $contexts; do
    kubectl --kubeconfig "$work/kubeconfig" --context "$c" get pods -A \
      -l component=singleuser-server --field-selector=status.phase=Pending -o name >/dev/null &
  done
  wait
}

# measure NAME CMD...: REPS runs; prints "NAME median_s peak_kib"
measure() {
  local name=$1; shift
  local times=() peak=0
  for _ in $(seq "$reps"); do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    read -r t m <"$work/t"
    times+=("$t"); [ "$m" -gt "$peak" ] && peak=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$name $median $peak"
}

export -f kubectl_loop; export work contexts
results=$(
  measure kubectl-loop bash -c kubectl_loop
  measure pending-all "$bin" run --config "$work/opsbot.yaml" --as sre "pending all"
  measure fleet-status "$bin" run --config "$work/opsbot.yaml" --as sre "fleet status"
  measure pending-one-hub "$bin" run --config "$work/opsbot.yaml" --as sre "pending $hub"
)
echo "$results" | awk -v shape="$shape" -v reps="$reps" '
  { t[$1] = $2; m[$1] = $3; order[NR] = $1 }
  END {
    printf "fleet %s, median of %d runs\n", shape, reps
    printf "%-16s %8s %10s %12s %12s\n", "command", "wall s", "peak MiB", "vs kubectl", "vs one hub"
    for (i = 1; i <= NR; i++) { k = order[i]
      printf "%-16s %8.2f %10.1f %11.2fx %11.2fx\n", k, t[k], m[k] / 1024, t[k] / t["kubectl-loop"], t[k] / t["pending-one-hub"] }
  }'
