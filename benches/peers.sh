#!/usr/bin/env bash
# benches/peers.sh: opsbot against the peers, measured in the same run.
#
# 1. ../shared/bench/peers/compare.sh  (Bolt JS, Probot; setup.sh first)
# 2. the floor (../shared/bench/floor)
# 3. opsbot demo (release) doing its real work per request: a run of
#    `hub status staging` on the simulated fleet, the SQLite audit log with
#    group commits, the Slack thread renderer posting to a local sink.
# 4. opsbot demo and opsbot serve (minimal config: no demo fleet) with GitHub
#    issue_comment deliveries too (a GitHub config needs a token: a dummy one,
#    GITHUB_API_URL on the sink, which answers every GitHub call at once). Every opsbot figure is followed by a BUSY line: the
#    share of requests answered "busy" (the refused{reason="busy"} counter of
#    /metrics, before and after, over the probe + warm-up + measurement count),
#    and the share answered as a duplicate delivery (reason duplicate_delivery
#    for Slack, replayed for GitHub), which must be 0.
#    opsbot deduplicates slash commands on their trigger_id, so its Slack load is
#    benches/slack-unique.lua (a unique trigger_id per request) instead of the
#    peers' slack.lua (one body for every request); Bolt JS does not deduplicate
#    and keeps the peers' script. The peers' github.lua already sends a new
#    comment id and X-GitHub-Delivery per request.
# Prints the SUMMARY lines; compute ratios from the same run only.
# Env: PEERS (default ../shared/bench/peers), SKIP_PEERS=1 to measure opsbot only,
#      SKIP_FLOOR=1 to leave out the floor (it builds in its own target dir),
#      DURATION/WARMUP/CONNS/THREADS passed to run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
peers=${PEERS:-$here/../shared/bench/peers}
floor_dir=$here/../shared/bench/floor
export SLACK_SIGNING_SECRET=${SLACK_SIGNING_SECRET:-opsbot-bench-slack-secret}
export GITHUB_WEBHOOK_SECRET=${GITHUB_WEBHOOK_SECRET:-opsbot-bench-github-secret}
cd "$here"
# run.sh loads $dir/slack.lua from its own folder: a folder of links to the
# peers' files with slack.lua replaced by benches/slack-unique.lua.
uniq=$(mktemp -d /tmp/opsbot-peers-unique.XXXXXX)
for f in "$peers"/*; do ln -s "$f" "$uniq/"; done
ln -sf "$here/benches/slack-unique.lua" "$uniq/slack.lua"
cargo build --release --locked --bin opsbot --example slack_sink
# The binaries, wherever CARGO_TARGET_DIR puts them.
target=${CARGO_TARGET_DIR:-$here/target}
pids=()
# opsbot first, then the sink it posts to.
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$uniq"; }
trap cleanup EXIT

if [ "${SKIP_PEERS:-0}" != 1 ]; then
  "$peers/compare.sh"
fi
if [ "${SKIP_PEERS:-0}" != 1 ] && [ "${SKIP_FLOOR:-0}" != 1 ]; then
  cargo build --release --manifest-path "$floor_dir/Cargo.toml" --target-dir /tmp/ack-floor
  PORT=3300 /tmp/ack-floor/release/ack-floor & fp=$!; pids+=("$fp"); sleep 1
  PID=$fp "$uniq/run.sh" slack http://127.0.0.1:3300/slack/commands
  kill "$fp"
fi

"$target/release/examples/slack_sink" 127.0.0.1:3499 & pids+=("$!")
work=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
(cd "$work" && exec env -u GITHUB_WEBHOOK_SECRET SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$work/audit.db" OPSBOT_LOG=error \
  "$target/release/opsbot" demo --no-console --listen 127.0.0.1:3400 2>"$work/opsbot.log") & op=$!; pids=("$op" "${pids[@]}")
wait_up() { for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; }
busy_count() { # busy_count PORT PLATFORM [REASON]
  curl -fs "http://127.0.0.1:$1/metrics" \
    | awk -v p="$2" -v r="${3:-busy}" '$0 ~ "^opsbot_refused_requests_total\\{platform=\"" p "\",reason=\"" r "\"\\}" {print $2; f=1} END {if (!f) print 0}'
}
dup_reason() { [ "$1" = slack ] && echo duplicate_delivery || echo replayed; }
measure() { # measure NAME PORT PID TARGET PATH : run.sh, then the busy share of everything sent
  local before after dup0 dup1 out=$work/$1-$4 sent
  before=$(busy_count "$2" "$4"); dup0=$(busy_count "$2" "$4" "$(dup_reason "$4")")
  PID=$3 RESULTS_DIR=$out SLACK_USER=U0DEMOBOB GITHUB_LOGIN=bob-demo "$uniq/run.sh" "$4" "http://127.0.0.1:$2$5"
  after=$(busy_count "$2" "$4"); dup1=$(busy_count "$2" "$4" "$(dup_reason "$4")")
  sent=$(( $(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$out/$4.wrk.txt") + 1 ))
  for n in $(sed -n 's/^STATUS //p' "$out/$4.warmup.txt"); do sent=$((sent + ${n#*=})); done
  awk -v n="$1" -v t="$4" -v b="$((after - before))" -v d="$((dup1 - dup0))" -v s="$sent" \
    'BEGIN {printf "BUSY server=%s target=%s busy=%d duplicate=%d sent=%d busy_share=%.3f duplicate_share=%.3f\n", n, t, b, d, s, b / s, d / s}'
}
wait_up 3400
measure demo 3400 "$op" slack /slack/commands
echo "runs recorded: $(sqlite3 "$work/audit.db" 'select count(*) from audit_runs' 2>/dev/null || echo '?')"
curl -fs http://127.0.0.1:3400/metrics | grep -E '^opsbot_(runs_total|refused_requests_total)' | head -20 || true
kill "$op"; wait "$op" 2>/dev/null || true

# GitHub on demo: a fresh process and store, so its peak RSS is its own.
gdir=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
(cd "$gdir" && exec env GITHUB_TOKEN=ghp-bench GITHUB_API_URL=http://127.0.0.1:3499/github SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$gdir/audit.db" OPSBOT_LOG=error \
  "$target/release/opsbot" demo --no-console --listen 127.0.0.1:3401 2>"$gdir/opsbot.log") & gp=$!; pids+=("$gp")
wait_up 3401
measure demo 3401 "$gp" github /github/webhook
kill "$gp"; wait "$gp" 2>/dev/null || true

# serve: the minimal config (the shipped commands and playbooks, one person,
# Slack and GitHub, no cluster), idle RSS first, then each platform. serve
# needs a GitHub token: a dummy one, its API pointed at the sink (which
# answers 404 to GitHub calls: the replies after each ack fail fast).
sdir=$(mktemp -d /tmp/opsbot-bench.XXXXXX)
cat > "$sdir/serve.yaml" <<YAML
listen: 127.0.0.1:3402
audit: { url: "sqlite://$sdir/audit.db" }
commands: $here/commands
playbooks: $here/playbooks
slack: { signing_secret: "\${SLACK_SIGNING_SECRET}", bot_token: "\${SLACK_BOT_TOKEN}" }
github: { webhook_secret: "\${GITHUB_WEBHOOK_SECRET}", token: "\${GITHUB_TOKEN}", api_url: "http://127.0.0.1:3499/github" }
people:
  - { id: bob, slack: U0DEMOBOB, github: bob-demo, roles: [support] }
roles:
  support: { run: [help, "hub status"] }
YAML
(cd "$sdir" && exec env GITHUB_TOKEN=ghp-bench SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_LOG=error "$target/release/opsbot" serve --config "$sdir/serve.yaml" 2>"$sdir/opsbot.log") & sp=$!; pids+=("$sp")
wait_up 3402; sleep 2
rss() { # rss PID : VmRSS, its anonymous and file-backed parts, and the peak (VmHWM), MiB
  awk '/^(VmRSS|RssAnon|RssFile|VmHWM):/ {sub(":", "", $1); printf "%s %s_mib=%.1f", s, tolower($1), $2/1024; s=" "} END {print ""}' "/proc/$1/status"
}
echo "IDLE server=serve $(rss "$sp")"
measure serve 3402 "$sp" slack /slack/commands
echo "LOADED server=serve target=slack $(rss "$sp")"
measure serve 3402 "$sp" github /github/webhook
echo "LOADED server=serve target=github $(rss "$sp")"
