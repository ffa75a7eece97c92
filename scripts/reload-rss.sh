#!/usr/bin/env bash
# Memory during a version switch (README "Model lifecycle", Measured): a release
# inferd on 127.0.0.1 serves dense-net (the bundled 512-2048-2048-10 MLP) as model
# `big` (about 21 MB of float32 weights once loaded) from a scratch repository, polling it every 200 ms, under a light request
# loop. Version 2 (a copy) is put in place, then version 1 removed; resident memory
# (VmRSS) is sampled every 50 ms throughout and summarized: before, peak during the
# switch, and after the old version drained (jemalloc returns freed pages within
# seconds, so the last figure is taken 25 s after the switch).
#
#   cargo build --release && bash scripts/reload-rss.sh
#
# Bounded: about 40 s; everything on loopback; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/inferd}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
DIR=$(mktemp -d)
PORT=${PORT:-18181}
trap 'kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/big/1"
cp models/dense-net/1/model.onnx "$DIR/big/1/"
"$BIN" --listen "127.0.0.1:$PORT" --model-repository "$DIR" --default-model big \
    --set repository.poll_interval=200ms --set log.requests=false >"$DIR/log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -fs "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER/status"; }
ROW=$(python3 -c 'print("{\"instances\": [[" + ",".join(["0.1"] * 512) + "]]}")')
ask() { curl -fs -o /dev/null -D - "127.0.0.1:$PORT/predict" -H 'content-type: application/json' \
    -H 'cache-control: no-store' -d "$ROW" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-inferd-model-version" {print $2}'; }
for _ in $(seq 20); do ask >/dev/null; done
sleep 2
before=$(rss)
# The high-water mark so far is the first load's own peak: parsing, optimizing
# and warming a copy costs more, for a moment, than the copy itself.
first_load_peak=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$SERVER/status")
( for _ in $(seq 400); do ask >/dev/null || true; sleep 0.05; done ) &
LOOP=$!
samples="$DIR/samples"
( while kill -0 "$SERVER" 2>/dev/null; do rss >>"$samples"; sleep 0.05; done ) &
SAMPLER=$!
t0=$(date +%s%N)
mkdir "$DIR/big/.2" && cp models/dense-net/1/model.onnx "$DIR/big/.2/" && mv "$DIR/big/.2" "$DIR/big/2"
until [ "$(ask)" = 2 ]; do sleep 0.02; done
switched_ms=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$DIR/big/1"
sleep 5
after5=$(rss)
sleep 20
after25=$(rss)
kill "$LOOP" "$SAMPLER" 2>/dev/null || true
peak=$(sort -n "$samples" | tail -1)
echo "reload-rss: RSS before ${before} MiB (the first load peaked at ${first_load_peak} MiB), peak during the switch ${peak} MiB, ${after5} MiB 5 s after, ${after25} MiB 25 s after; version 2 served ${switched_ms} ms after its folder appeared"
