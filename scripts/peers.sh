#!/usr/bin/env bash
# inferd against its peers on the same core, dense-net (README "Performance", the
# peers), in one run:
#   MLServer (pip, onnxruntime through scripts/mlserver_ort_runtime.py), V2 JSON:
#     json64: 64-row requests (64 x 512 FP32), 8 connections;
#     row:    1-row requests, 32 connections (a heavy model, one row at a time);
#   onnxruntime alone (scripts/ort_alone.py: in process, one thread, no server, at
#     its best batch size) against inferd's rows/s on 1-row requests at 32
#     connections, V2 JSON and V2 binary, with the default max_queue_delay (0) and
#     with 1ms (a second inferd).
# Each server in turn pinned to core 0, wrk on core 1; onnxruntime alone on core 0.
# ROUNDS rounds, each round one run per peer seconds apart (the machine's speed
# drifts between rounds). Servers in their default configuration, but inferd's
# cache off (MLServer has none, and every request here is the same body). Prints
# Markdown tables with every round's figures and the ratios.
#
#   scripts/peers.sh                 # builds release unless INFERD_BIN is set
#   ROUNDS=5 DURATION=30s scripts/peers.sh
#   MLSERVER_MAX_BATCH=64 scripts/peers.sh   # MLServer's adaptive batching on
#
# Run by hand or by scripts/loadbench.sh, not by CI (about 8 minutes once MLServer
# is installed into target/mlserver-venv, pinned below).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
# onnxruntime alone is timed for the same number of seconds as each wrk run.
[[ $DURATION =~ ^[0-9]+s$ ]] || { echo "[peers] error: DURATION must be whole seconds, such as 20s" >&2; exit 1; }
WARMUP=${WARMUP:-5s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=$ROOT/target/peers
VENV=$ROOT/target/mlserver-venv
mkdir -p "$OUT"
log() { echo "[peers] $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
if [ ! -x "$VENV/bin/mlserver" ]; then
    log "installing MLServer into $VENV"
    python3 -m venv "$VENV"
    # uvloop 0.22 and later refuse MLServer 1.7.1 workers an implicit event loop.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check mlserver==1.7.1 onnxruntime==1.32.0 uvloop==0.21.0
fi
if [ -z "${INFERD_BIN:-}" ]; then
    cargo build --release --quiet --bin inferd
    INFERD_BIN=$ROOT/target/release/inferd
fi

# --- request bodies (the model's own reference inputs) -------------------------------
python3 - "$OUT" <<'EOF'
import sys
sys.path.insert(0, "scripts")
from v2_bodies import reference_rows, write_v2
write_v2(f"{sys.argv[1]}/json64", reference_rows("dense-net", 64))
write_v2(f"{sys.argv[1]}/row", reference_rows("dense-net", 1))
EOF

# --- servers ------------------------------------------------------------------------
PIDS=()
# Each server leads its own process group (setsid), so its workers go with it; a
# server that has not exited 10 s after SIGTERM is killed.
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for _ in $(seq 20); do
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && break; pid=""; done
        [ -z "$pid" ] && return 0
        sleep 0.5
    done
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { # URL PID
    for _ in $(seq 240); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}

# start_inferd NAME ARGS... : inferd pinned to SERVER_CPU, cache off; sets PORT.
start_inferd() {
    local name=$1; shift
    PORT=$(free_port)
    setsid taskset -c "$SERVER_CPU" "$INFERD_BIN" --listen "127.0.0.1:$PORT" --set cache.enabled=false "$@" \
        >"$OUT/$name.log" 2>&1 &
    PIDS+=("$!")
    wait_ready "http://127.0.0.1:$PORT/v2/models/dense-net/ready" "$!" ||
        die "$name did not become ready (see $OUT/$name.log)"
}
start_inferd inferd
INFERD_PORT=$PORT
# The same with a 1 ms batching window: for a heavy model under a closed loop
# of clients, the window lets a batch fill (README "Batching and overload").
start_inferd inferd-1ms --set batching.max_queue_delay=1ms
INFERD_1MS_PORT=$PORT

MODEL_DIR=$OUT/mlserver-models/dense-net
mkdir -p "$MODEL_DIR"
cp scripts/mlserver_ort_runtime.py "$MODEL_DIR/ort_runtime.py"
# MLSERVER_MAX_BATCH=64 turns on MLServer's adaptive batching (off by default), with
# a 5 ms window (max_batch_time).
batching=""
if [ "${MLSERVER_MAX_BATCH:-0}" != 0 ]; then
    batching="\"max_batch_size\": $MLSERVER_MAX_BATCH, \"max_batch_time\": 0.005,"
fi
cat >"$MODEL_DIR/model-settings.json" <<EOF
{"name": "dense-net", "implementation": "ort_runtime.OnnxRuntime", $batching
 "parameters": {"uri": "$ROOT/models/dense-net/1/model.onnx"}}
EOF
MLSERVER_PORT=$(free_port)
cat >"$OUT/mlserver-models/settings.json" <<EOF
{"http_port": $MLSERVER_PORT, "grpc_port": $(free_port), "metrics_port": $(free_port)}
EOF
(cd "$OUT/mlserver-models" && exec setsid taskset -c "$SERVER_CPU" "$VENV/bin/mlserver" start .) \
    >"$OUT/mlserver.log" 2>&1 &
MLSERVER_PID=$!
PIDS+=("$MLSERVER_PID")
wait_ready "http://127.0.0.1:$MLSERVER_PORT/v2/models/dense-net/ready" "$MLSERVER_PID" ||
    die "MLServer did not become ready (see $OUT/mlserver.log)"

# Both answer the same body with the same scores (within float tolerance).
python3 - "$INFERD_PORT" "$MLSERVER_PORT" "$OUT/json64.json" <<'EOF'
import json, sys, urllib.request
def infer(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/dense-net/infer",
                                 data=open(sys.argv[3], "rb").read(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=30))["outputs"][0]["data"]
a, b = infer(sys.argv[1]), infer(sys.argv[2])
assert len(a) == len(b) and all(abs(x - y) <= 1e-4 * max(1.0, abs(y)) for x, y in zip(a, b)), "the two servers disagree"
print(f"[peers] both servers answer the same {len(a)} scores", file=sys.stderr)
EOF

# run PORT BODY CONNS : prints "REQ_PER_S P99_MS ERRORS"; a BODY ending in .bin is
# sent as V2 binary (its JSON header's length in BODY.len).
run() {
    local url="http://127.0.0.1:$1/v2/models/dense-net/infer" wrk env=(BODY_FILE="$2")
    if [[ $2 == *.bin ]]; then
        env+=(CONTENT_TYPE=application/octet-stream HEADER_LEN="$(cat "$2.len")")
    fi
    wrk=(taskset -c "$CLIENT_CPU" wrk -t1 -c"$3" --timeout 10s -s scripts/wrk-post.lua "$url")
    env "${env[@]}" "${wrk[@]}" -d"$WARMUP" >/dev/null
    env "${env[@]}" "${wrk[@]}" -d"$DURATION" >"$OUT/wrk.txt"
    read -r _ n us _ p99 non2xx sockerr <<<"$(grep '^RESULT' "$OUT/wrk.txt")"
    awk -v n="$n" -v us="$us" -v p99="$p99" -v e=$((non2xx + sockerr)) \
        'BEGIN { printf "%.1f %.1f %d\n", n / (us / 1e6), p99 / 1000, e }'
}

# ort_alone BATCHES SECONDS FILE : onnxruntime alone on SERVER_CPU; prints the best
# batch size's "BATCH ROWS_PER_S" and keeps every size's figures in FILE.
ort_alone() {
    taskset -c "$SERVER_CPU" "$VENV/bin/python" scripts/ort_alone.py "$ROOT/models/dense-net/1/model.onnx" \
        --batches "$1" --seconds "$2" >"$3"
    tail -n 1 "$3" | python3 -c 'import json, sys; b = json.load(sys.stdin)["best"]; print(b["batch"], b["rows_per_s"])'
}

echo "| scenario | round | inferd req/s | inferd p99 ms | MLServer req/s | MLServer p99 ms | errors | inferd / MLServer |"
echo "|---|---|---|---|---|---|---|---|"
for scenario in "json64 8" "row 32"; do
    read -r name conns <<<"$scenario"
    for round in $(seq "$ROUNDS"); do
        read -r irps ip99 ierr <<<"$(run "$INFERD_PORT" "$OUT/$name.json" "$conns")"
        read -r mrps mp99 merr <<<"$(run "$MLSERVER_PORT" "$OUT/$name.json" "$conns")"
        ratio=$(awk -v a="$irps" -v b="$mrps" 'BEGIN { printf "%.2f", a / b }')
        echo "| $name, $conns conns | $round | $irps | $ip99 | $mrps | $mp99 | $((ierr + merr)) | $ratio |"
    done
done

# onnxruntime alone: the whole curve once, then each round times its best size
# beside inferd's runs.
read -r ORT_BATCH _ <<<"$(ort_alone 1,8,16,32,64,128,256,512 2 "$OUT/ort-curve.jsonl")"
log "onnxruntime alone is fastest at $ORT_BATCH rows per run: $(paste -sd' ' "$OUT/ort-curve.jsonl")"
ORT_SECONDS=${DURATION%s}
echo
echo "| round | onnxruntime alone, $ORT_BATCH-row runs, rows/s | inferd rows/s: V2 JSON / V2 binary | with max_queue_delay=1ms: JSON / binary | inferd / onnxruntime: JSON / binary / JSON 1ms / binary 1ms | errors |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
    read -r _ ort <<<"$(ort_alone "$ORT_BATCH" "$ORT_SECONDS" "$OUT/ort-round.jsonl")"
    read -r j _ je <<<"$(run "$INFERD_PORT" "$OUT/row.json" 32)"
    read -r b _ be <<<"$(run "$INFERD_PORT" "$OUT/row.bin" 32)"
    read -r j1 _ j1e <<<"$(run "$INFERD_1MS_PORT" "$OUT/row.json" 32)"
    read -r b1 _ b1e <<<"$(run "$INFERD_1MS_PORT" "$OUT/row.bin" 32)"
    ratios=$(awk -v o="$ort" -v j="$j" -v b="$b" -v j1="$j1" -v b1="$b1" \
        'BEGIN { printf "%.2f / %.2f / %.2f / %.2f", j / o, b / o, j1 / o, b1 / o }')
    echo "| $round | $ort | $j / $b | $j1 / $b1 | $ratios | $((je + be + j1e + b1e)) |"
done
