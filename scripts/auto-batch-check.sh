#!/usr/bin/env bash
# Does `max_batch_size = "auto"` pick as well as a sweep by hand? (README "Batching
# and overload".)
#
#   scripts/auto-batch-check.sh              # this checkout's release build
#   INFERD_BIN=target/debug/inferd scripts/auto-batch-check.sh
#
# dense-net, single-row /predict with the cache bypassed, 32 connections: the load
# where batching decides throughput. For each size in SIZES, a server in the default
# configuration ("auto") and one with `--set batching.max_batch_size=SIZE` run at
# once on core 0, each driven by its own wrk on core 1, for ROUNDS rounds of
# DURATION after 2 s of warm-up. Run at the same moment, whatever slows the shared
# machine slows both, so auto/SIZE is a fair ratio (one after the other the same
# figure swung by +-20% here). auto's rate over the best size's is the minimum of
# those ratios over SIZES (each round's median). Request logs stay on (the default).
# Logs and the chosen curve go to target/auto-batch/. About 4 minutes after a build.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/target/auto-batch
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
SIZES=${SIZES:-"1 4 8 16 32 64"}
mkdir -p "$OUT"
for tool in wrk curl python3 taskset; do
    command -v "$tool" >/dev/null || { echo "auto-batch-check: $tool is required" >&2; exit 1; }
done
if [ -z "${INFERD_BIN:-}" ]; then
    cargo build --release --bin inferd
    INFERD_BIN=$PWD/target/release/inferd
fi
# One dense-net row of the bundled test inputs' width (512 features).
python3 -c "
import json, random
random.seed(7)
print(json.dumps({'model': 'dense-net', 'instances': [[round(random.uniform(-1, 1), 4) for _ in range(512)]]}))
" > "$OUT/body.json"
cat > "$OUT/post.lua" <<EOF
wrk.method = "POST"
local f = io.open("$OUT/body.json"); wrk.body = f:read("*a"); f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["cache-control"] = "no-store"
EOF
mkdir -p "$OUT/models"
ln -sfn "$PWD/models/dense-net" "$OUT/models/dense-net"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # port log args...
    local port=$1 log=$2; shift 2
    taskset -c 0 "$INFERD_BIN" --listen "127.0.0.1:$port" --model-repository "$OUT/models" \
        --default-model dense-net "$@" > "$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 600); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
        sleep 0.2
    done
    echo "auto-batch-check: server on $port not ready (see $log)" >&2
    exit 1
}

drive() { # port duration
    taskset -c 1 wrk -t1 -c32 -d"$2" -s "$OUT/post.lua" "http://127.0.0.1:$1/predict" |
        awk '/Requests\/sec/ {printf "%d", $2}'
}

start 18601 "$OUT/auto.log"
curl -fs http://127.0.0.1:18601/v2/models/dense-net/config > "$OUT/auto-config.json"
python3 - "$OUT/auto-config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"auto chose max_batch_size = {c['max_batch_size']} for dense-net")
print(f"its curve (rows:fastest run): {c['parameters']['max_batch_size_curve']['string_value']}")
PY
cleanup; PIDS=()

echo
echo "| size | round | auto req/s | size req/s | auto/size |"
echo "|---|---|---|---|---|"
: > "$OUT/ratios"
for size in $SIZES; do
    start 18601 "$OUT/auto-$size.log"
    start 18602 "$OUT/fixed-$size.log" --set "batching.max_batch_size=$size"
    drive 18601 2s > /dev/null & other=$!
    drive 18602 2s > /dev/null; wait "$other"
    for r in $(seq "$ROUNDS"); do
        drive 18601 "$DURATION" > "$OUT/ra" & other=$!
        drive 18602 "$DURATION" > "$OUT/rb"; wait "$other"
        ra=$(cat "$OUT/ra"); rb=$(cat "$OUT/rb")
        ratio=$(python3 -c "print(f'{$ra / max($rb, 1):.3f}')")
        echo "$size $ratio" >> "$OUT/ratios"
        echo "| $size | $r | $ra | $rb | $ratio |"
    done
    cleanup; PIDS=(); sleep 1
done
python3 - "$OUT/ratios" <<'PY'
import statistics, sys
by_size = {}
for line in open(sys.argv[1]):
    size, ratio = line.split()
    by_size.setdefault(int(size), []).append(float(ratio))
medians = {s: statistics.median(r) for s, r in by_size.items()}
worst = min(medians, key=medians.get)
print()
print("median auto/size per size: " + ", ".join(f"{s}: {m:.3f}" for s, m in sorted(medians.items())))
print(f"auto / best size by hand = {medians[worst]:.3f} (the best by hand: {worst} rows)")
PY
