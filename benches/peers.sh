#!/usr/bin/env bash
# benches/peers.sh: opsbot against the peers, measured in the same run.
#
# 1. ../shared/bench/peers/compare.sh  (Bolt JS, Probot; setup.sh first)
# 2. the floor (../shared/bench/floor)
# 3. opsbot demo (release) doing its real work per request: a run of
#    `hub status staging` on the simulated fleet, the SQLite audit log with
#    group commits, the Slack thread renderer posting to a local sink.
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
cargo build --release --bin opsbot --example slack_sink
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

target/release/examples/slack_sink 127.0.0.1:3499 & pids+=("$!")
work=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
(cd "$work" && exec env -u GITHUB_WEBHOOK_SECRET SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$work/audit.db" OPSBOT_LOG=error \
  "$here/target/release/opsbot" demo --no-console --listen 127.0.0.1:3400 2>"$work/opsbot.log") & op=$!; pids=("$op" "${pids[@]}")
for _ in $(seq 100); do curl -fs http://127.0.0.1:3400/healthz >/dev/null && break; sleep 0.1; done
PID=$op SLACK_USER=U0DEMOBOB "$peers/run.sh" slack http://127.0.0.1:3400/slack/commands
echo "runs recorded: $(sqlite3 "$work/audit.db" 'select count(*) from audit_runs' 2>/dev/null || echo '?')"
curl -fs http://127.0.0.1:3400/metrics | grep -E '^opsbot_(runs_total|refused_requests_total)' | head -20 || true
