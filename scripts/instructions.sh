#!/usr/bin/env bash
# User-space instructions per /predict request, counted by callgrind (valgrind): the
# same figure for the same binary and request whatever else the machine is doing,
# unlike req/s on shared cores. Kernel work is not counted (see README "Performance").
#
#   scripts/instructions.sh                      # inferd (release build), default config: cache hits
#   HDR='cache-control: no-store' scripts/instructions.sh   # the same request, cache bypassed
#   BIN=<floor bench executable> scripts/instructions.sh    # the floor (see scripts/loadbench.sh)
#
# The server serves the stock forecaster alone, on a loopback port, under callgrind
# with instrumentation off; 200 requests warm it (and fill the cache), then N (2000)
# requests over one keep-alive connection are counted. Prints the instructions per
# request and the functions with the most inclusive instructions, per request; the
# whole profile is left in target/instructions/ for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/inferd}
N=${N:-2000}
OUT=target/instructions
[ -x "$BIN" ] || { echo "no $BIN: build it first" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "instructions: valgrind is required (Debian's package)" >&2; exit 1; }
mkdir -p "$OUT/models"
ln -sfn "$PWD/models/stock-forecaster" "$OUT/models/stock-forecaster"
BODY=$OUT/row.json
python3 -c 'import json; r = json.load(open("models/stock-forecaster/1/reference.json"))["inputs"][0]; print(json.dumps({"instances": [r]}))' >"$BODY"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NAME=$(basename "$BIN")
rm -f "$OUT/$NAME".callgrind*
if [[ $NAME == floor* ]]; then
    args=(--serve "127.0.0.1:$PORT")
else
    args=(--model-repository "$OUT/models" --listen "127.0.0.1:$PORT")
fi
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/$NAME.callgrind" \
    "$BIN" "${args[@]}" >"$OUT/$NAME.stdout" 2>"$OUT/$NAME.valgrind" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
# shellcheck source=scripts/one-connection.sh
. scripts/one-connection.sh
wait_ready 600 || { echo "$(basename "$0"): the server did not get ready" >&2; exit 1; }

post 200
callgrind_control -i on "$PID" >/dev/null 2>&1
post "$N"
callgrind_control -i off "$PID" >/dev/null 2>&1
callgrind_control -d "$PID" >/dev/null 2>&1
kill "$PID"; wait "$PID" 2>/dev/null || true
profile=$(ls "$OUT/$NAME".callgrind* | tail -1)
total=$(awk '/^totals:/ {print $2}' "$profile")
awk -v t="$total" -v n="$N" 'BEGIN { printf "user-space instructions per request: %.0f (%d requests)\n", t / n, n }'
echo "most inclusive instructions per request, by function:"
callgrind_annotate --inclusive=yes "$profile" 2>/dev/null |
    grep -E '^ *[0-9,]+ +\( *[0-9.]+%\)' |
    sed -E 's/^ *([0-9,]+) +\( *[0-9.]+%\) +/\1 /' |
    awk -v n="$N" '{ c = $1; gsub(",", "", c); $1 = ""; printf "%8.0f%s\n", c / n, $0 }' |
    sed -E 's#/root/\.cargo/registry/src/[^/]+/##; s# \[[^]]*\]$##' | head -${TOP:-60}
