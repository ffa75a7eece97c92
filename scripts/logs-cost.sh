#!/usr/bin/env bash
# What request logs cost: inferd in its default configuration (a JSON line per
# request) against the same build with request logs off (--log-level warn), on the
# forecaster's single-row /predict, as a cache hit and with the cache bypassed.
#
#   scripts/logs-cost.sh              # this checkout's release build
#   OTHER=/path/to/inferd scripts/logs-cost.sh   # also pairs that build against this one
#
# Two measurements, each printed as a table:
# 1. Throughput, paired at the same moment: both servers run at once on core 0 (the
#    kernel shares the core between them), each driven by its own wrk (16
#    connections) on core 1, in ROUNDS (3) rounds of DURATION (8s) after 2 s of
#    warm-up. Whatever slows the shared machine slows both alike, so the ratio of
#    their req/s is the inverse ratio of their CPU cost per request; run one after the
#    other, the same ratio swung by +-20% here. The bypassed cache's pairing is less
#    steady: each server's inference thread and batches compete too.
# 2. Instructions per request (callgrind, user space only, so the kernel's share is
#    left out): each server under valgrind answers 200 requests of warm-up, then
#    2,000 counted, on one keep-alive connection. Whatever else the machine does,
#    the count moves by no more than a few per cent (timing-dependent paths such as
#    the runtime parking). Needs valgrind (on every machine here).
# Logs go to files in target/logs-cost/. About 6 minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/target/logs-cost
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
mkdir -p "$OUT"
for tool in wrk valgrind curl python3; do
    command -v "$tool" >/dev/null || { echo "logs-cost: $tool is required" >&2; exit 1; }
done
cargo build --release --bin inferd
THIS=$PWD/target/release/inferd
body='{"instances": [[0.8, -0.3, 1.2, 0.1, -0.5, 0.4, 0.0, 0.9, -1.1, 0.3, 0.2, -0.2, 0.6, -0.7, 0.1, 0.5]]}'
printf '%s' "$body" > "$OUT/body.json"
cat > "$OUT/post.lua" <<EOF
wrk.method = "POST"
local f = io.open("$OUT/body.json"); wrk.body = f:read("*a"); f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["cache-control"] = os.getenv("CACHE_CONTROL")
EOF
# Only the forecaster: dense-net's load would dominate the callgrind runs.
mkdir -p "$OUT/models"
ln -sfn "$PWD/models/stock-forecaster" "$OUT/models/stock-forecaster"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

start() { # port log command...
    local port=$1 log=$2; shift 2
    "$@" --listen "127.0.0.1:$port" --model-repository "$OUT/models" > "$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 600); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
        sleep 0.2
    done
    echo "logs-cost: server on $port not ready (see $log)" >&2
    exit 1
}

drive() { # port duration cache-control
    CACHE_CONTROL=$3 taskset -c 1 wrk -t1 -c16 -d"$2" -s "$OUT/post.lua" \
        "http://127.0.0.1:$1/predict" | awk '/Requests\/sec/ {printf "%d", $2}'
}

# pair NAME_A "CMD_A" NAME_B "CMD_B" CACHE_CONTROL: prints one table row per round.
pair() {
    local a=($2) b=($4) cc=$5
    start 18501 "$OUT/$1.log" taskset -c 0 "${a[@]}"
    start 18502 "$OUT/$3.log" taskset -c 0 "${b[@]}"
    local other
    drive 18501 2s "$cc" > /dev/null & other=$!
    drive 18502 2s "$cc" > /dev/null; wait "$other"
    for r in $(seq "$ROUNDS"); do
        drive 18501 "$DURATION" "$cc" > "$OUT/ra" & other=$!
        drive 18502 "$DURATION" "$cc" > "$OUT/rb"; wait "$other"
        local ra rb
        ra=$(cat "$OUT/ra"); rb=$(cat "$OUT/rb")
        echo "| $cc | $r | $1 $ra | $3 $rb | $(python3 -c "print(f'{$ra / $rb:.3f}')") |"
    done
    cleanup; PIDS=(); sleep 1
}

echo "| cache-control | round | A req/s | B req/s | A/B |"
echo "|---|---|---|---|---|"
for cc in max-age=0 no-store; do
    pair default "$THIS" logs-off "$THIS --log-level warn" "$cc"
    if [ -n "${OTHER:-}" ]; then pair other "$OTHER" default "$THIS" "$cc"; fi
done

# instructions N CACHE_CONTROL command...: callgrind's count for N requests, after
# 200 of warm-up, in one process (as scripts/instructions.sh counts). Two processes'
# totals differed by millions of instructions before any request (model loading
# takes different paths from run to run), so a difference of two runs was not used.
# shellcheck source=scripts/one-connection.sh
. scripts/one-connection.sh
instructions() {
    local n=$1 cc=$2; shift 2
    local file=$OUT/callgrind.out
    rm -f "$file"*
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$file" "$@" \
        --listen 127.0.0.1:18503 --model-repository "$OUT/models" > "$OUT/callgrind-server.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    PORT=18503 BODY=$OUT/body.json
    wait_ready 600 || { echo "logs-cost: the callgrind server did not get ready" >&2; exit 1; }
    HDR="cache-control: $cc" post 200
    callgrind_control -i on "$pid" >/dev/null 2>&1
    HDR="cache-control: $cc" post "$n"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    PIDS=()
    local total
    total=$(awk '/^totals:/ {print $2}' "$(ls "$file"* | tail -1)")
    echo $(( total / n ))
}

echo
echo "| cache-control | build | instructions per request |"
echo "|---|---|---|"
builds=("default|$THIS" "logs-off|$THIS --log-level warn")
if [ -n "${OTHER:-}" ]; then builds+=("other|$OTHER"); fi
for cc in max-age=0 no-store; do
    for entry in "${builds[@]}"; do
        name=${entry%%|*}; cmd=(${entry#*|})
        echo "| $cc | $name | $(instructions 2000 "$cc" "${cmd[@]}") |"
    done
done
