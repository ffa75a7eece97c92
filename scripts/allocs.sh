#!/usr/bin/env bash
# Heap allocations per /predict request, counted exactly with perf uprobes on
# jemalloc's entry points: the difference between 1 and 501 requests sent over one
# keep-alive connection, divided by 500.
#
#   scripts/allocs.sh                  # inferd (release build), default config: cache hits
#   HDR='cache-control: no-store' scripts/allocs.sh   # the same request, cache bypassed
#   BIN=<floor bench executable> scripts/allocs.sh    # the floor (see scripts/loadbench.sh)
#
# Needs root (uprobes) and perf; run `cargo build --release` first. The server runs on
# a loopback port and is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/inferd}
BODY=${BODY:-target/allocs-row.json}
[ -x "$BIN" ] || { echo "no $BIN: build it first" >&2; exit 1; }
python3 -c 'import json; r = json.load(open("models/stock-forecaster/1/reference.json"))["inputs"][0]; print(json.dumps({"instances": [r]}))' >"$BODY"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

perf probe -q -d 'probe_allocs:*' 2>/dev/null || true
for f in _rjem_malloc _rjem_mallocx _rjem_calloc _rjem_realloc _rjem_rallocx; do
    perf probe -q -x "$BIN" --add "probe_allocs:$f=$f" 2>/dev/null || true
done
if [[ $(basename "$BIN") == floor* ]]; then
    "$BIN" --serve "127.0.0.1:$PORT" >/dev/null 2>&1 &
else
    "$BIN" --listen "127.0.0.1:$PORT" --log-level warn >/dev/null 2>&1 &
fi
PID=$!
trap 'kill $PID 2>/dev/null; perf probe -q -d "probe_allocs:*" 2>/dev/null || true' EXIT
# shellcheck source=scripts/one-connection.sh
. scripts/one-connection.sh
wait_ready 240 || { echo "$(basename "$0"): the server did not get ready" >&2; exit 1; }

count() { # allocations in the server while N requests are served
    local out
    out=$(mktemp)
    perf stat -x, -e 'probe_allocs:*' -p "$PID" -o "$out" -- sleep 3 &
    local stat=$!
    sleep 0.5
    post "$1"
    wait "$stat"
    awk -F, '/probe_allocs/ { s += $1 } END { print s + 0 }' "$out"
    rm -f "$out"
}
post 1 # warm-up (fills the cache)
one=$(count 1)
many=$(count 501)
awk -v a="$one" -v b="$many" 'BEGIN { printf "allocations per request: %.1f (1 request: %d, 501 requests: %d)\n", (b - a) / 500, a, b }'
