#!/usr/bin/env bash
# benches/burst.sh: a burst of Slack slash commands against `opsbot demo`
# (release), run by hand (never in tests).
#
# Starts the stand-in Slack API (examples/slack_sink.rs) and opsbot demo
# posting its threads there with a SQLite audit log, then sends COUNT
# (default 2000) signed `/ops hub status staging` commands from SENDERS
# (default 32) concurrent senders (examples/slack_burst.rs). Counts answers
# that say busy and non-2xx ones, waits until every accepted run has ended in
# the audit store, and prints one SUMMARY line:
#   finished runs/s = runs ended / (last end - first send), lost = accepted - ended,
#   CPU time of opsbot per ended run (user + system: a figure other load on
#   the machine does not change), peak RSS of opsbot (VmHWM).
# Env: COUNT, SENDERS, TEXT, WAIT (seconds to wait for the runs to end, default 120),
#      PERF=1 to record a perf profile of opsbot during the burst (perf.data in the work dir),
#      PERF_OPTS to change how (default `-F 499 -g`; `-F 99 --call-graph dwarf,16384` for call stacks in a release build, which has no frame pointers).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export SLACK_SIGNING_SECRET=${SLACK_SIGNING_SECRET:-opsbot-bench-slack-secret}
target=${CARGO_TARGET_DIR:-$here/target}
cd "$here"
: no build
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$target/release/examples/slack_sink" 127.0.0.1:3499 2>/dev/null & pids+=("$!")
work=$(mktemp -d /tmp/opsbot-burst.XXXXXX)
db=$work/audit.db
(cd "$work" && exec env -u GITHUB_WEBHOOK_SECRET SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:3499/api \
  OPSBOT_AUDIT_URL="sqlite://$db" OPSBOT_LOG=error \
  "$target/release/opsbot" demo --no-console --listen 127.0.0.1:3400 2>"$work/opsbot.log") & op=$!; pids=("$op" "${pids[@]}")
for _ in $(seq 100); do curl -fs http://127.0.0.1:3400/healthz >/dev/null && break; sleep 0.1; done
curl -fs http://127.0.0.1:3400/healthz >/dev/null || { echo "opsbot did not come up; see $work/opsbot.log" >&2; exit 1; }

ended_sql="select count(*), coalesce(cast(round((max(julianday(at)) - 2440587.5) * 86400000) as integer), 0)
  from audit_events where kind in ('finished','failed','cancelled','interrupted')"
before=$(sqlite3 "$db" "$ended_sql" | cut -d'|' -f1)
# CPU time opsbot spends (user + system, clock ticks): a figure per run that
# other load on the machine does not change, unlike runs/s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$op/stat"; }
cpu_before=$(cpu_ticks)
requested_before=$(sqlite3 "$db" "select count(*) from audit_events where kind = 'requested'")

if [ "${PERF:-0}" = 1 ]; then
  perf record ${PERF_OPTS:--F 499 -g} -p "$op" -o "$work/perf.data" 2>/dev/null & perf_pid=$!
  sleep 0.5
fi
line=$(SLACK_USER=${SLACK_USER:-U0DEMOBOB} "$target/release/examples/slack_burst")
echo "$line"
val() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ok=$(val ok); busy=$(val busy); non2xx=$(val non2xx); errors=$(val errors); first=$(val first_send_ms)
accepted=$(( $(sqlite3 "$db" "select count(*) from audit_events where kind = 'requested'") - requested_before ))

deadline=$(( $(date +%s) + ${WAIT:-120} ))
while :; do
  ended=$(( $(sqlite3 "$db" "$ended_sql" | cut -d'|' -f1) - before ))
  [ "$ended" -ge "$accepted" ] && break
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 0.2
done
if [ -n "${perf_pid:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
last=$(sqlite3 "$db" "$ended_sql" | cut -d'|' -f2)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$op/status")
cpu_ms=$(( ($(cpu_ticks) - cpu_before) * 1000 / $(getconf CLK_TCK) ))
cpu_per_run=$(awk -v c="$cpu_ms" -v n="$ended" 'BEGIN { if (n > 0) printf "%.2f", c / n; else print 0 }')
span_ms=$(( last - first ))
rate=$(awk -v n="$ended" -v ms="$span_ms" 'BEGIN { if (ms > 0) printf "%.0f", n * 1000 / ms; else print 0 }')
echo "SUMMARY slack_burst sent=$(val sent) senders=${SENDERS:-32} accepted=$accepted busy=$busy non2xx=$non2xx errors=$errors ok_answers=$ok ended=$ended lost=$(( accepted - ended )) runs_per_s=$rate span_ms=$span_ms cpu_ms_per_run=$cpu_per_run peak_rss_mb=$(( rss_kb / 1024 ))"
echo "work dir: $work"
