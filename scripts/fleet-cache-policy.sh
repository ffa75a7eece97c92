#!/usr/bin/env bash
# Which load-balancing policy makes the fleet's caches work best (README
# "Scale-out", cache policy). Each replica caches only what it has seen, so:
#   leastconn  3 replicas, HAProxy `balance leastconn`: every replica sees every row;
#   hash       3 replicas, `balance hash req.body` + `hash-type consistent` +
#              `hash-balance-factor 150` (config/haproxy.cfg): each row has a home;
#   bar        1 replica with 3x the cache: what one cache of the fleet's total
#              size reaches; the policy should get >= 0.9 of its hit ratio.
# Each runs on a fresh fleet (empty caches): WARMUP_S of wrk, then MEASURE_S
# measured, single-row predicts over a Zipf stream (scripts/fleet-zipf.lua). The
# hit ratio is the share of answers with `x-inferd-cache: hit`, counted by wrk.
#
#   scripts/fleet-cache-policy.sh          # prints a table, writes $OUT/table.md
#
# Knobs: CACHE_BYTES per replica (256KiB, small enough that the cache, not the
# TTL, decides), ZIPF_ROWS (20000), ZIPF_S (1.0), CONNS (16), WARMUP_S (10),
# MEASURE_S (20). About 3 minutes once the images exist.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

PROJECT=${E2E_PROJECT:-inferd-cache}
CONNS=${CONNS:-16}
WARMUP_S=${WARMUP_S:-10}
MEASURE_S=${MEASURE_S:-20}
CACHE_BYTES=${CACHE_BYTES:-262144}
LB=http://127.0.0.1:8080
PROM=http://127.0.0.1:9090
OUT=${OUT:-$PWD/target/fleet-cache}
WRK=(wrk -t2 -c"$CONNS" --timeout 10s -s scripts/fleet-zipf.lua)
export ZIPF_ROWS=${ZIPF_ROWS:-20000} ZIPF_S=${ZIPF_S:-1.0}
mkdir -p "$OUT"
# shellcheck source=scripts/fleet-lib.sh
. scripts/fleet-lib.sh

trap 'compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true' EXIT
ensure_tools
build_images

# run NAME REPLICAS CACHE_BYTES BALANCE: one measurement on a fresh fleet.
run() {
    local name=$1 replicas=$2 cache=$3 balance=$4
    # The policy under test replaces the shipped `balance` block in a copy of
    # config/haproxy.cfg, mounted over it by a compose override file.
    awk -v b="$balance" '/^    balance /{print "    balance " b; next}
        /^    hash-type |^    hash-balance-factor /{if (b !~ /^hash/) next} {print}' \
        config/haproxy.cfg >"$OUT/haproxy-$name.cfg"
    OVERRIDE=$OUT/override-$name.yaml
    cat >"$OVERRIDE" <<EOF
services:
  inferd:
    environment:
      INFERD_CACHE__MAX_BYTES: "$cache"
  lb:
    volumes:
      - $OUT/haproxy-$name.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro
EOF
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    compose up -d --scale inferd="$replicas" >"$OUT/up-$name.log" 2>&1 \
        || { cat "$OUT/up-$name.log" >&2; die "compose up ($name)"; }
    wait_for 90 "$replicas replicas UP ($name)" fleet_ready "$replicas"
    "${WRK[@]}" -d "${WARMUP_S}s" "$LB" >"$OUT/$name-warmup.wrk" 2>&1
    "${WRK[@]}" -d "${MEASURE_S}s" "$LB" >"$OUT/$name.wrk" 2>&1
    local r
    r=$(load_result "$name")
    [ "$(jq .failed <<<"$r")" -eq 0 ] || die "$name: failed requests: $r"
    jq -r --arg n "$name" --arg rep "$replicas" --arg c "$cache" \
        '"| \($n) | \($rep) | \($c) | \(.hits / .responses * 1000 | round / 1000) | \(.rate | round) | \(.p99_ms) |"' <<<"$r"
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1
}

{
    echo "| policy | replicas | cache bytes each | hit ratio | requests/s | p99 ms |"
    echo "|---|---|---|---|---|---|"
    run leastconn 3 "$CACHE_BYTES" leastconn
    run hash 3 "$CACHE_BYTES" "hash req.body"
    run bar 1 $((CACHE_BYTES * 3)) leastconn
} | tee "$OUT/table.md"
log "conditions: ZIPF_ROWS=$ZIPF_ROWS ZIPF_S=$ZIPF_S CONNS=$CONNS warmup ${WARMUP_S}s, measured ${MEASURE_S}s, $(nproc) cores shared by replicas, lb and wrk"
