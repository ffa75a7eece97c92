#!/usr/bin/env bash
# What drift monitoring costs (README "Monitoring"): single-row /predict throughput
# on the forecaster with its baseline.json ("on") and without ("off"), same binary,
# same settings, loadbench.sh style: each server pinned to core 0, wrk to core 1.
#
#   scripts/drift-cost.sh            # about 2 minutes after a release build
#
# Two scenarios: cache off (every row runs the model) and the same row as a cache
# hit (the cheapest request, so monitoring's share is largest). Each is measured in
# ROUNDS rounds of "off" then "on" seconds apart, and the median round's ratio is
# reported with every round's: the shared machine drifts more than the effect.
# Knobs: DURATION (5s), WARMUP (1s), CONNS (32), ROUNDS (5), SERVER_CPU, CLIENT_CPU.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/drift-cost
DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
rm -rf "$OUT" && mkdir -p "$OUT"
log() { printf '[drift-cost] %s\n' "$*" >&2; }

for tool in wrk taskset curl python3 cargo; do
    command -v "$tool" >/dev/null || { log "$tool is required (apt-get install wrk)"; exit 1; }
done
cargo build --release --bin inferd
INFERD=$ROOT/target/release/inferd

# Two repositories: the forecaster with and without its baseline.
for mode in on off; do
    mkdir -p "$OUT/$mode/stock-forecaster/1"
    cp models/stock-forecaster/model.toml "$OUT/$mode/stock-forecaster/"
    cp models/stock-forecaster/1/model.onnx "$OUT/$mode/stock-forecaster/1/"
done
cp models/stock-forecaster/1/baseline.json "$OUT/on/stock-forecaster/1/"
python3 -c '
import json, sys
row = json.load(open("models/stock-forecaster/1/reference.json"))["inputs"][0]
open(sys.argv[1], "w").write(json.dumps({"instances": [row]}))' "$OUT/row.json"
cat >"$OUT/post.lua" <<'EOF'
wrk.method = "POST"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
done = function(summary) io.write(string.format("RESULT %d %d\n", summary.requests, summary.duration)) end
EOF

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# serve MODE CACHE: starts inferd on MODE's repository; sets PORT.
serve() {
    local port; port=$(free_port)
    taskset -c "$SERVER_CPU" "$INFERD" --listen "127.0.0.1:$port" --model-repository "$OUT/$1" \
        --log-level warn --workers 1 --set "cache.enabled=$2" >"$OUT/$1-$2.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 120); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && { PORT=$port; return; }
        sleep 0.5
    done
    log "inferd ($1, cache $2) did not start"; exit 1
}

# rate PORT: requests per second of one wrk run.
rate() {
    BODY_FILE=$OUT/row.json taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$WARMUP" \
        -s "$OUT/post.lua" "http://127.0.0.1:$1/predict" >/dev/null
    BODY_FILE=$OUT/row.json taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" \
        -s "$OUT/post.lua" "http://127.0.0.1:$1/predict" |
        awk '/^RESULT/ { printf "%.0f\n", $2 / ($3 / 1e6) }'
}

printf '| scenario | off req/s | on req/s | on/off (median round) | every round |\n|---|---|---|---|---|\n' \
    | tee "$OUT/table.md"
for cache in false true; do
    serve off "$cache"; off=$PORT
    serve on "$cache"; on=$PORT
    curl -fsS -o /dev/null -H 'content-type: application/json' -d @"$OUT/row.json" "http://127.0.0.1:$on/predict"
    rounds=()
    for _ in $(seq "$ROUNDS"); do
        a=$(rate "$off"); b=$(rate "$on")
        rounds+=("$a $b")
    done
    name=$([ "$cache" = true ] && echo "single row, cache hit" || echo "single row, cache off")
    printf '%s\n' "${rounds[@]}" | python3 -c '
import sys
name = sys.argv[1]
pairs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
ratios = sorted((b / a, a, b) for a, b in pairs)
r, a, b = ratios[len(ratios) // 2]
every = ", ".join(f"{b / a:.3f}" for a, b in pairs)
print(f"| {name} | {a:.0f} | {b:.0f} | {r:.3f} | {every} |")' "$name" | tee -a "$OUT/table.md"
    curl -fsS "http://127.0.0.1:$on/v2/models/stock-forecaster/monitoring" >"$OUT/monitoring-$cache.json"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
done
log "table in $OUT/table.md"
