-- wrk script: the peers' Slack slash command (../shared/bench/peers/slack.lua), but every request is a
-- new command: its `trigger_id` (the last field of the form, as run.sh writes it) is unique per request.
-- Slack mints a trigger_id for every slash command and opsbot deduplicates on it (a redelivery is not
-- run twice), so with the peers' one body every request after the first is answered as a duplicate and
-- does no work. Bolt JS does not deduplicate, so the peers keep their own slack.lua.
-- Signed as Slack signs it: X-Slack-Request-Timestamp: <now>,
-- X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:<ts>:<body>")); the part of that string before the
-- trigger_id is hashed once per second, each request hashes only its tail.
-- Loaded from a folder holding the peers' common.lua and hmac_sha256.lua (benches/peers.sh links them
-- beside it), or set PEERS_LUA_DIR to the peers folder. Env: SLACK_SIGNING_SECRET, BENCH_BODY.
local dir = os.getenv("PEERS_LUA_DIR")
if not dir or dir == "" then
  dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
end
local C = dofile(dir .. "/common.lua")
local secret = C.env("SLACK_SIGNING_SECRET")
local body = C.body("slack-slash_command.form")
wrk.method = "POST"

local cut = body:match("^.*()trigger_id=")
assert(cut, "slack-unique.lua: the body has no trigger_id (write it with run.sh)")
local head = body:sub(1, cut + #"trigger_id=" - 1)
assert(not body:sub(cut):find("&", 1, true), "slack-unique.lua: trigger_id must be the form's last field")

local run, n = 0, 0
function init(args)
  run = os.time() -- distinct per wrk run (warm-up and measurement start in different seconds)
end

local cur_ts, sign
function request()
  local ts = os.time()
  if ts ~= cur_ts then
    cur_ts = ts
    sign = C.hmac.prepared(secret, "v0:" .. ts .. ":" .. head)
  end
  n = n + 1
  -- Slack's shape (digits.digits.hex), unique per run, thread and request.
  local tail = string.format("%d.%d.%012x", run, tid or 0, n)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)",
    ["Accept"] = "application/json,*/*",
    ["X-Slack-Request-Timestamp"] = tostring(ts),
    ["X-Slack-Signature"] = "v0=" .. sign(tail),
  }, head .. tail)
end
