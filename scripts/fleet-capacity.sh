#!/usr/bin/env bash
# The numbers behind the README's capacity model ("Scale-out"), on containers:
#   1. cold start: `docker start` of a stopped replica -> its /readyz answers 200
#      (COLD_RUNS times; the median is reported);
#   2. one replica's throughput and p99 at rising connection counts, loaded
#      directly (its port published on 127.0.0.1:18080 for this run only);
#   3. the load balancer's cost: the same load through `lb` (127.0.0.1:8080) to
#      the same single replica, runs interleaved with the direct ones, same cores.
# Single-row forecaster predicts with the cache off (every request computes: the
# capacity a cold cache leaves), the rows from scripts/fleet-zipf.lua.
#
#   scripts/fleet-capacity.sh        # prints a table, writes $OUT/capacity.md
#
# Knobs: CONNS_LIST ("2 8 32"), RUN_S (10), COLD_RUNS (3). About 3 minutes once the
# images exist. The machine's other work shows in every figure: state it.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

PROJECT=${E2E_PROJECT:-inferd-capacity}
RUN_S=${RUN_S:-10}
COLD_RUNS=${COLD_RUNS:-3}
CONNS_LIST=${CONNS_LIST:-2 8 32}
LB=http://127.0.0.1:8080
DIRECT=http://127.0.0.1:18080
PROM=http://127.0.0.1:9090
OUT=${OUT:-$PWD/target/fleet-capacity}
WRK=(wrk -t2 --timeout 10s -s scripts/fleet-zipf.lua)
export CACHE_CONTROL=no-store ZIPF_ROWS=${ZIPF_ROWS:-5000}
export LOG_LEVEL=${LOG_LEVEL:-info,inferd::http::observe=warn}
mkdir -p "$OUT"
# shellcheck source=scripts/fleet-lib.sh
. scripts/fleet-lib.sh

trap 'compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true' EXIT
ensure_tools
build_images

OVERRIDE=$OUT/override.yaml
cat >"$OVERRIDE" <<'EOF'
services:
  inferd:
    ports:
      - "127.0.0.1:18080:8080"
EOF
compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
compose up -d --scale inferd=1 >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log" >&2; die "compose up"; }
wait_for 90 "1 replica UP" fleet_ready 1

# --- 1. cold start -------------------------------------------------------------------
replica=$(replicas)
colds=()
for _ in $(seq "$COLD_RUNS"); do
    docker stop -t 30 "$replica" >/dev/null
    start=$(date +%s.%N)
    docker start "$replica" >/dev/null
    ready() { curl -fsS -o /dev/null --max-time 1 "$DIRECT/readyz" 2>/dev/null; }
    deadline=$((SECONDS + 60))
    until ready; do
        [ $SECONDS -lt $deadline ] || die "replica not ready within 60 s"
        sleep 0.05
    done
    colds+=("$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {printf "%.2f", a - b}')")
done
cold=$(printf '%s\n' "${colds[@]}" | sort -n | sed -n "$(((COLD_RUNS + 1) / 2))p")
wait_for 60 "the replica UP behind lb again" fleet_ready 1

# --- 2 and 3. direct and through lb, interleaved ----------------------------------------
{
    echo "| connections | direct req/s | direct p99 ms | through lb req/s | through lb p99 ms | lb/direct throughput |"
    echo "|---|---|---|---|---|---|"
    for c in $CONNS_LIST; do
        "${WRK[@]}" -c"$c" -d "${RUN_S}s" "$DIRECT" >"$OUT/direct-$c.wrk" 2>&1
        "${WRK[@]}" -c"$c" -d "${RUN_S}s" "$LB" >"$OUT/lb-$c.wrk" 2>&1
        d=$(load_result "direct-$c")
        l=$(load_result "lb-$c")
        for r in "$d" "$l"; do
            [ "$(jq .failed <<<"$r")" -eq 0 ] || die "failed requests at $c connections: $r"
        done
        jq -rn --argjson d "$d" --argjson l "$l" --arg c "$c" \
            '"| \($c) | \($d.rate | round) | \($d.p99_ms) | \($l.rate | round) | \($l.p99_ms) | \($l.rate / $d.rate * 100 | round / 100) |"'
    done
    echo
    echo "cold start, docker start -> /readyz 200: median ${cold} s of ${colds[*]}"
} | tee "$OUT/capacity.md"
log "conditions: 1 replica, cache off, $(nproc) cores shared by the replica, lb, docker-proxy and wrk; load average $(cut -d' ' -f1-3 /proc/loadavg)"
