#!/usr/bin/env bash
# benches/peers.sh: opsbot against the peers, measured in the same run.
#
# 1. ../shared/bench/peers/compare.sh  (Bolt JS, Probot; setup.sh first)
# 2. the floor (../shared/bench/floor)
# 3. opsbot demo (release) doing its real work per request: a run of
#    `hub status staging` on the simulated fleet, the SQLite audit log with
#    group commits, the Slack thread renderer posting to a local sink.
# 4. opsbot demo and opsbot serve (minimal config: no demo fleet) with GitHub
#    issue_comment deliveries too (no GitHub API: no token, so no call is made
#    before the answer). Every opsbot figure is followed by a BUSY line: the
#    share of requests answered "busy" (the refused{reason="busy"} counter of
#    /metrics, before and after, over the probe + warm-up + measurement count).
# Prints the SUMMARY lines; compute ratios from the same run only.
# Env: PEERS (default ../shared/bench/peers), SKIP_PEERS=1 to measure opsbot only,
#      DURATION/WARMUP/CONNS/THREADS passed to run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS:-$here/../shared/bench/peers}
floor_dir=$here/../shared/bench/floor
export SLACK_SIGNING_SECRET=${SLACK_SIGNING_SECRET:-opsbot-bench-slack-secret}
export GITHUB_WEBHOOK_SECRET=${GITHUB_WEBHOOK_SECRET:-opsbot-bench-github-secret}
cd "$here"
cargo build --release --locked --bin opsbot --example slack_sink
# The binaries, wherever CARGO_TARGET_DIR puts them.
target=${CARGO_TARGET_DIR:-$here/target}
pids=()
# opsbot first, then the sink it posts to.
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ "${SKIP_PEERS:-0}" != 1 ]; then
  "$peers/compare.sh"
  cargo build --release --manifest-path "$floor_dir/Cargo.toml" --target-dir /tmp/ack-floor
  PORT=3300 /tmp/ack-floor/release/ack-floor & fp=$!; pids+=("$fp"); sleep 1
  PID=$fp "$peers/run.sh" slack http://127.0.0.1:3300/slack/commands
  kill "$fp"
fi

"$target/release/examples/slack_sink" 127.0.0.1:3499 & pids+=("$!")
work=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
(cd "$work" && exec env -u GITHUB_WEBHOOK_SECRET SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$work/audit.db" OPSBOT_LOG=error \
  "$target/release/opsbot" demo --no-console --listen 127.0.0.1:3400 2>"$work/opsbot.log") & op=$!; pids=("$op" "${pids[@]}")
wait_up() { for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; }
busy_count() { # busy_count PORT PLATFORM
  curl -fs "http://127.0.0.1:$1/metrics" \
    | awk -v p="$2" '$0 ~ "^opsbot_refused_requests_total\\{platform=\"" p "\",reason=\"busy\"\\}" {print $2; f=1} END {if (!f) print 0}'
}
measure() { # measure NAME PORT PID TARGET PATH : run.sh, then the busy share of everything sent
  local before after out=$work/$1-$4 sent
  before=$(busy_count "$2" "$4")
  PID=$3 RESULTS_DIR=$out SLACK_USER=U0DEMOBOB GITHUB_LOGIN=bob-demo "$peers/run.sh" "$4" "http://127.0.0.1:$2$5"
  after=$(busy_count "$2" "$4")
  sent=$(( $(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$out/$4.wrk.txt") + 1 ))
  for n in $(sed -n 's/^STATUS //p' "$out/$4.warmup.txt"); do sent=$((sent + ${n#*=})); done
  awk -v n="$1" -v t="$4" -v b="$((after - before))" -v s="$sent" \
    'BEGIN {printf "BUSY server=%s target=%s busy=%d sent=%d busy_share=%.3f\n", n, t, b, s, b / s}'
}
wait_up 3400
measure demo 3400 "$op" slack /slack/commands
echo "runs recorded: $(sqlite3 "$work/audit.db" 'select count(*) from audit_runs' 2>/dev/null || echo '?')"
curl -fs http://127.0.0.1:3400/metrics | grep -E '^opsbot_(runs_total|refused_requests_total)' | head -20 || true
kill "$op"; wait "$op" 2>/dev/null || true

# GitHub on demo: a fresh process and store, so its peak RSS is its own.
gdir=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
(cd "$gdir" && exec env -u GITHUB_TOKEN SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$gdir/audit.db" OPSBOT_LOG=error \
  "$target/release/opsbot" demo --no-console --listen 127.0.0.1:3401 2>"$gdir/opsbot.log") & gp=$!; pids+=("$gp")
wait_up 3401
measure demo 3401 "$gp" github /github/webhook
kill "$gp"; wait "$gp" 2>/dev/null || true

# serve: the minimal config (the shipped commands and playbooks, one person,
# Slack and GitHub, no cluster), idle RSS first, then each platform.
sdir=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
cat > "$sdir/serve.yaml" <<YAML
listen: 127.0.0.1:3402
audit: { url: "sqlite://$sdir/audit.db" }
commands: $here/commands
playbooks: $here/playbooks
slack: { signing_secret: "\${SLACK_SIGNING_SECRET}", bot_token: "\${SLACK_BOT_TOKEN}" }
github: { webhook_secret: "\${GITHUB_WEBHOOK_SECRET}" }
people:
  - { id: bob, slack: U0DEMOBOB, github: bob-demo, roles: [support] }
roles:
  support: { run: [help, "hub status"] }
YAML
(cd "$sdir" && exec env -u GITHUB_TOKEN SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_LOG=error "$target/release/opsbot" serve --config "$sdir/serve.yaml" 2>"$sdir/opsbot.log") & sp=$!; pids+=("$sp")
wait_up 3402; sleep 2
echo "IDLE server=serve rss_mib=$(awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$sp/status")"
measure serve 3402 "$sp" slack /slack/commands
measure serve 3402 "$sp" github /github/webhook
