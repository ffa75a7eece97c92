#!/usr/bin/env bash
# inferd against MLServer (pip, onnxruntime through scripts/mlserver_ort_runtime.py)
# on the same core, dense-net over V2 JSON (README "Performance"):
#   json64: 64-row requests (64 x 512 FP32), 8 connections;
#   row:    1-row requests, 32 connections (a heavy model, one row at a time).
# Each server in turn pinned to core 0, wrk on core 1; ROUNDS rounds, each round
# one wrk run per server seconds apart (the machine's speed drifts between rounds).
# Both in their default configuration, but inferd's cache off (MLServer has none,
# and every request here is the same body). Prints a Markdown table with every
# round's req/s and the ratio inferd / MLServer.
#
#   scripts/mlserver-peer.sh                 # builds release unless INFERD_BIN is set
#   ROUNDS=5 DURATION=30s scripts/mlserver-peer.sh
#   MLSERVER_MAX_BATCH=64 scripts/mlserver-peer.sh   # MLServer's adaptive batching on
#
# Run by hand, not by CI (about 5 minutes once MLServer is installed into
# target/mlserver-venv, pinned below).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=$ROOT/target/mlserver-peer
VENV=$ROOT/target/mlserver-venv
mkdir -p "$OUT"
log() { echo "[mlserver-peer] $*" >&2; }
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
import json, sys
out = sys.argv[1]
ref = json.load(open("models/dense-net/1/reference.json"))["inputs"]
for name, rows in (("json64", 64), ("row", 1)):
    flat = [v for i in range(rows) for v in ref[i % len(ref)]]
    body = {"inputs": [{"name": "input", "shape": [rows, 512], "datatype": "FP32", "data": flat}]}
    open(f"{out}/{name}.json", "w").write(json.dumps(body, separators=(",", ":")))
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

INFERD_PORT=$(free_port)
setsid taskset -c "$SERVER_CPU" "$INFERD_BIN" --listen "127.0.0.1:$INFERD_PORT" --set cache.enabled=false \
    >"$OUT/inferd.log" 2>&1 &
INFERD_PID=$!
PIDS+=("$INFERD_PID")
wait_ready "http://127.0.0.1:$INFERD_PORT/v2/models/dense-net/ready" "$INFERD_PID" ||
    die "inferd did not become ready (see $OUT/inferd.log)"

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
print(f"[mlserver-peer] both servers answer the same {len(a)} scores", file=sys.stderr)
EOF

# run PORT BODY CONNS : prints "REQ_PER_S P99_MS ERRORS"
run() {
    local url="http://127.0.0.1:$1/v2/models/dense-net/infer" wrk
    wrk=(taskset -c "$CLIENT_CPU" wrk -t1 -c"$3" --timeout 10s -s scripts/wrk-post.lua "$url")
    BODY_FILE=$2 "${wrk[@]}" -d"$WARMUP" >/dev/null
    BODY_FILE=$2 "${wrk[@]}" -d"$DURATION" >"$OUT/wrk.txt"
    read -r _ n us _ p99 non2xx sockerr <<<"$(grep '^RESULT' "$OUT/wrk.txt")"
    awk -v n="$n" -v us="$us" -v p99="$p99" -v e=$((non2xx + sockerr)) \
        'BEGIN { printf "%.1f %.1f %d\n", n / (us / 1e6), p99 / 1000, e }'
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
