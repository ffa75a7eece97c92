#!/usr/bin/env bash
# Hostile-input timing: each hostile case of the README's "Hostile input" table, sent
# to the release build with default settings over loopback, timed from the first byte
# sent to the first byte of the answer (or to the close, for stalled connections),
# while one client keeps sending good /predict requests and times them. Bounded: one
# request per case (48 for the concurrent bodies, 64 stalled connections), about a
# minute in all (the stalled body waits for http.body_read_timeout, 30 s).
#
#   scripts/hostile-timing.sh        # writes target/hostile/report.md
#
# The server's peak resident memory (VmHWM) is read at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/hostile
mkdir -p "$OUT"

cargo build --release --bin inferd
target/release/inferd --listen 127.0.0.1:0 --log-format json --log-level warn,inferd=info \
    > "$OUT/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
address=""
for _ in $(seq 1 600); do
    address=$(grep -o '"address":"[^"]*"' "$OUT/server.log" | head -n1 | cut -d'"' -f4 || true)
    [ -n "$address" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
    sleep 0.1
done
[ -n "$address" ] || { cat "$OUT/server.log"; exit 1; }
echo "[hostile] inferd (pid $server) on $address" >&2

python3 scripts/hostile_timing.py "$address" "$server" "$OUT/report.md"
