#!/usr/bin/env bash
# Soak: a bounded run of mixed good and bad requests against the release build, with
# the server's resident memory sampled between rounds. Passes when every sample after
# warm-up stays within +-10% of the first sample after warm-up.
#
#   scripts/soak.sh            # 2,000,000 requests, at most 55 rounds of 10 s
#   REQUESTS=200000 scripts/soak.sh
#
# The mix, one request in ten of each: single rows of random lags (cache misses that
# fill and churn the cache), a repeated row (cache hits), a V2 JSON 8-row batch, and
# seven kinds of bad request (malformed JSON, duplicate keys, rows past
# max_request_rows, an unknown model, a made-up method, a wrong content type, a
# 413-sized declared length). The server runs with a small cache (8 MiB) so the cache
# reaches its bound during warm-up. Writes target/soak/report.md; wrk output and the
# server log go to target/soak/. Environment knobs: REQUESTS (2000000), ROUND (10s),
# CONNS (16), MAX_ROUNDS (55: the run stays under 10 minutes, and fails if 2M
# requests did not fit). The report gives RSS before the load, its peak (the
# kernel's VmHWM, which catches peaks between samples) and RSS after 10 s idle.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/soak
REQUESTS=${REQUESTS:-2000000}
ROUND=${ROUND:-10s}
CONNS=${CONNS:-16}
MAX_ROUNDS=${MAX_ROUNDS:-55}
mkdir -p "$OUT"
log() { printf '[soak] %s\n' "$*" >&2; }

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin inferd

target/release/inferd --listen 127.0.0.1:0 --log-format json --log-level warn,inferd=info \
    --set cache.max_bytes=8MiB --set batching.max_request_rows=64 \
    > "$OUT/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
address=""
for _ in $(seq 1 600); do
    address=$(grep -o '"address":"[^"]*"' "$OUT/server.log" | head -n1 | cut -d'"' -f4 || true)
    [ -n "$address" ] && break
    sleep 0.1
done
[ -n "$address" ] || { cat "$OUT/server.log"; exit 1; }
log "inferd (pid $server) on $address"

cat > "$OUT/mix.lua" <<'LUA'
local json = {["Content-Type"] = "application/json"}
local function lags()
  local v = {}
  for i = 1, 16 do v[i] = string.format("%.3f", math.random() * 4 - 2) end
  return "[" .. table.concat(v, ",") .. "]"
end
local fixed = lags()
local batch = {}
for i = 1, 8 do batch[i] = lags() end
local v2 = '{"inputs":[{"name":"input","shape":[8,16],"datatype":"FP32","data":[' ..
  table.concat(batch, ","):gsub("[%[%]]", "") .. ']}]}'
local many = {}
for i = 1, 65 do many[i] = fixed end
local kinds = {
  function() return wrk.format("POST", "/predict", json, '{"instances":[' .. lags() .. ']}') end,
  function() return wrk.format("POST", "/predict", json, '{"instances":[' .. fixed .. ']}') end,
  function() return wrk.format("POST", "/v2/models/stock-forecaster/infer", json, v2) end,
  function() return wrk.format("POST", "/predict", json, '{"instances":[[1,2,') end,
  function() return wrk.format("POST", "/predict", json, '{"instances":[{"input":' .. fixed .. ',"input":' .. fixed .. '},{}]}') end,
  function() return wrk.format("POST", "/predict", json, '{"instances":[' .. table.concat(many, ",") .. ']}') end,
  function() return wrk.format("POST", "/v1/models/nope:predict", json, '{"instances":[' .. fixed .. ']}') end,
  function() return wrk.format("FOO", "/predict", nil, nil) end,
  function() return wrk.format("POST", "/predict", {["Content-Type"] = "text/plain"}, "x") end,
  function() return wrk.format("POST", "/predict", {["Content-Type"] = "application/json", ["Content-Length"] = "999999999"}, nil) end,
}
local n = 0
request = function()
  n = n + 1
  return kinds[(n % #kinds) + 1]()
end
LUA

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
peak() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }
total=0
round=0
echo "round requests_total rss_kib" > "$OUT/rss.txt"
echo "0 0 $(rss)" >> "$OUT/rss.txt"
while [ "$total" -lt "$REQUESTS" ] && [ "$round" -lt "$MAX_ROUNDS" ]; do
    round=$((round + 1))
    wrk -t2 -c"$CONNS" -d"$ROUND" -s "$OUT/mix.lua" "http://$address" > "$OUT/wrk-$round.txt" 2>&1 || true
    done_now=$(awk '/requests in/ {print $1}' "$OUT/wrk-$round.txt")
    total=$((total + ${done_now:-0}))
    kill -0 "$server" || { log "inferd died"; tail "$OUT/server.log"; exit 1; }
    echo "$round $total $(rss)" >> "$OUT/rss.txt"
    log "round $round: $total requests, RSS $(rss) KiB"
done

sleep 10
echo "$(rss) $(peak)" > "$OUT/after.txt"

python3 - "$OUT" "$REQUESTS" <<'PY'
import sys
out, wanted = sys.argv[1], int(sys.argv[2])
rows = [tuple(map(int, l.split())) for l in open(f"{out}/rss.txt").read().split("\n")[1:] if l.strip()]
total = rows[-1][1]
# Warm-up: the first quarter of the requests (the cache fills, the allocator settles).
after = [r for r in rows if r[1] >= total // 4]
base = after[0][2]
worst = max(abs(r[2] - base) / base for r in after)
ok = total >= wanted and worst <= 0.10
idle, hwm = map(int, open(f"{out}/after.txt").read().split())
lines = [
    f"# Soak: {total} requests",
    "",
    f"RSS before the load {rows[0][2] / 1024:.1f} MiB, peak (VmHWM) {hwm / 1024:.1f} MiB, "
    f"after 10 s idle {idle / 1024:.1f} MiB.",
    "",
    f"RSS at start {rows[0][2] / 1024:.1f} MiB; after warm-up (first quarter of the requests) "
    f"{base / 1024:.1f} MiB; after warm-up it ranged {min(r[2] for r in after) / 1024:.1f}-"
    f"{max(r[2] for r in after) / 1024:.1f} MiB, at most {worst * 100:.1f}% from the post-warm-up "
    f"sample (limit 10%): {'PASS' if ok else 'FAIL'}",
    "",
    "| round | requests so far | RSS MiB |",
    "|---|---|---|",
] + [f"| {r[0]} | {r[1]} | {r[2] / 1024:.1f} |" for r in rows]
open(f"{out}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines[:5]))
sys.exit(0 if ok else 1)
PY
