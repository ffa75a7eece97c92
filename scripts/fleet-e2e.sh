#!/usr/bin/env bash
# The fleet under faults, on the real engine (README "Scale-out"; run by .ci/run).
#
#   scripts/fleet-e2e.sh
#
# Builds the base images (scripts/base-images.sh) and the inferd image once, starts
# compose.yaml (3 replicas, HAProxy, Prometheus) as its own compose project, drives
# bounded wrk load at the load balancer on 127.0.0.1:8080 (scripts/fleet-zipf.lua:
# single-row predicts over a Zipf stream of rows) and proves, printing the counts:
#   1. a replica `docker kill`ed mid-load: 0 failed client requests, HAProxy's
#      retries and redispatches counted;
#   2. rolling restart, every replica SIGTERMed and started again one at a time
#      under load: 0 failed requests;
#   3. scale 3 -> 5 under load: both new replicas serve within 10 s, and
#      Prometheus shows up == 1 for all five;
#   4. fleet request rate and p99 from PromQL match wrk's own figures, on
#      dense-net rows without the cache (tolerances below, with why).
# "Failed" = non-2xx answers + socket errors (connect, read, write, timeout).
# Exits non-zero on the first broken promise; always tears the fleet down.
# Takes about 4 minutes once the images exist (the first inferd image build
# compiles every dependency: ~15 min on 2 cores).
#
# Knobs: CONNS (16), LOAD_S (20), E2E_PROJECT (inferd-e2e), KEEP=1 leaves the fleet up.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C   # sort and join below must agree on order

PROJECT=${E2E_PROJECT:-inferd-e2e}
CONNS=${CONNS:-16}
LOAD_S=${LOAD_S:-20}
LB=http://127.0.0.1:8080
PROM=http://127.0.0.1:9090
OUT=${OUT:-target/fleet-e2e}
# wrk's default 2 s timeout would count a slow-but-successful answer as failed
# while a replica restarts; 10 s still catches a request that hangs.
WRK=(wrk -t2 -c"$CONNS" --timeout 10s -s scripts/fleet-zipf.lua)
export ZIPF_ROWS=${ZIPF_ROWS:-5000} ZIPF_S=${ZIPF_S:-1.0}
# Per-request log lines through Docker's log driver would cost more CPU than the
# requests themselves on 2 cores; lifecycle lines stay.
export LOG_LEVEL=${LOG_LEVEL:-info,inferd::http::observe=warn}
mkdir -p "$OUT"

# shellcheck source=scripts/fleet-lib.sh
. scripts/fleet-lib.sh

teardown() {
    local rc=$?
    if [ "${KEEP:-0}" = 1 ]; then
        log "KEEP=1: fleet left up (docker-compose -p $PROJECT down -v to remove)"
    else
        log "tearing down"
        compose logs --no-color >"$OUT/compose.log" 2>&1 || true
        compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    exit "$rc"
}

# --- tools and images ----------------------------------------------------------------
ensure_tools

build_images

trap teardown EXIT
compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

# --- the fleet ---------------------------------------------------------------------------
log "starting the fleet (project $PROJECT)"
compose up -d >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log" >&2; die "compose up"; }
wait_for 90 "3 replicas UP behind the lb" fleet_ready 3
[ "$(replicas | wc -l)" -eq 3 ] || die "expected 3 replicas, found $(replicas | wc -l)"
log "fleet up: 3 replicas, lb on $LB"

# --- 1. a replica killed mid-load ---------------------------------------------------------
retries_before=$(lb_sum haproxy_backend_retry_warnings_total 'proxy="inferd"')
redisp_before=$(lb_sum haproxy_backend_redispatch_warnings_total 'proxy="inferd"')
victim=$(replicas | head -1)
load_start "$LOAD_S" kill
sleep 5
docker kill "$victim" >/dev/null
log "killed replica ${victim:0:12} mid-load"
load_wait kill
result=$(load_result kill)
retries=$(($(lb_sum haproxy_backend_retry_warnings_total 'proxy="inferd"') - retries_before))
redisp=$(($(lb_sum haproxy_backend_redispatch_warnings_total 'proxy="inferd"') - redisp_before))
check_no_failures "replica killed" "$result"
echo "RESULT 1 replica killed mid-load: requests=$(jq .requests <<<"$result") failed=$(jq .failed <<<"$result") lb_retries=$retries lb_redispatches=$redisp"
docker start "$victim" >/dev/null
wait_for 60 "the killed replica back UP" fleet_ready 3

# --- 2. rolling restart under load ----------------------------------------------------------
# Long enough for three stop/start cycles; wrk keeps going until its end.
load_start $((LOAD_S * 3)) rolling
sleep 3
for c in $(replicas); do
    docker stop -t 30 "$c" >/dev/null    # SIGTERM, then wait for the drain to end
    docker start "$c" >/dev/null
    wait_for 60 "replica ${c:0:12} back UP" fleet_ready 3
    log "restarted replica ${c:0:12}"
done
load_wait rolling
result=$(load_result rolling)
check_no_failures "rolling restart" "$result"
echo "RESULT 2 rolling restart of 3 replicas: requests=$(jq .requests <<<"$result") failed=$(jq .failed <<<"$result")"

# --- 3. scale 3 -> 5 under load ---------------------------------------------------------------
before=$(served_by_slot)
load_start "$LOAD_S" scale
sleep 2
compose up -d --no-recreate --scale inferd=5 >"$OUT/scale.log" 2>&1 \
    || { cat "$OUT/scale.log" >&2; die "scale to 5"; }
scaled_at=$SECONDS
new_serving() { # every slot that has served since before the scale-up
    join -a1 -e0 -o 1.1,1.2,2.2 <(served_by_slot) <(echo "$before") \
        | awk '$2 > $3' | wc -l
}
five_serving() { [ "$(new_serving)" -ge 5 ]; }
wait_for 10 "5 replicas serving within 10 s of the scale-up" five_serving
took=$((SECONDS - scaled_at))
load_wait scale
result=$(load_result scale)
check_no_failures "scale-up" "$result"
five_up() { [ "$(promql 'count(up{job="inferd"} == 1)')" = 5 ]; }
wait_for 30 "Prometheus: up == 1 for 5 replicas" five_up
echo "RESULT 3 scale 3->5: 5 replicas serving ${took} s after the scale command; Prometheus count(up{job=\"inferd\"} == 1) = $(promql 'count(up{job="inferd"} == 1)'); requests=$(jq .requests <<<"$result") failed=$(jq .failed <<<"$result")"

# --- 4. fleet metrics in PromQL against wrk --------------------------------------------------
# dense-net rows without the cache: the time inside inferd (queue + inference)
# is then most of what wrk sees, so the two p99s measure nearly the same thing.
# (With cheap cache hits, wrk's p99 is the lb hop and CPU contention among a
# dozen processes on 2 cores, which no server-side histogram can see.)
sleep 4   # let the scale-up's samples age out of the window below
MODEL=dense-net FEATURES=512 CACHE_CONTROL=no-store load_start "$LOAD_S" metrics
load_wait metrics
result=$(load_result metrics)
end=$(date +%s)
sleep 5   # two scrape intervals, so the last samples are in
window="${LOAD_S}s"
rate=$(promql "sum(rate(inferd_http_requests_total{route=\"/predict\"}[$window]))" "$end")
p99=$(promql "histogram_quantile(0.99, sum by (le)(rate(inferd_http_request_duration_seconds_bucket{route=\"/predict\"}[$window])))" "$end")
wrk_rate=$(jq .rate <<<"$result")
wrk_p99=$(jq .p99_ms <<<"$result")
check_no_failures "metrics run" "$result"
python3 - "$rate" "$wrk_rate" "$p99" "$wrk_p99" <<'EOF' || die "fleet metrics do not match wrk's"
import sys
rate, wrk_rate, p99_s, wrk_p99_ms = map(float, sys.argv[1:])
p99_ms = p99_s * 1000
# Rate: both count the same requests over the same ~20 s; Prometheus' rate()
# extrapolates to the window's edges, wrk's window is its own: within 10%.
rate_ok = abs(rate - wrk_rate) <= 0.10 * wrk_rate
# p99: the server's histogram cannot see the lb hop and wrk's own queueing, so it
# reads lower than wrk's; histogram_quantile interpolates inside a bucket (they
# step 1-2.5-5 per decade), which can move it either way. Allowed: 0.5x to 1.25x.
p99_ok = wrk_p99_ms * 0.5 <= p99_ms <= wrk_p99_ms * 1.25
print(f"RESULT 4 fleet metrics: PromQL rate={rate:.1f}/s wrk rate={wrk_rate:.1f}/s "
      f"(ratio {rate / wrk_rate:.3f}, tolerance 0.10); PromQL p99={p99_ms:.2f} ms "
      f"wrk p99={wrk_p99_ms:.2f} ms (ratio {p99_ms / wrk_p99_ms:.2f}, allowed 0.5..1.25)")
sys.exit(0 if rate_ok and p99_ok else 1)
EOF

echo "fleet-e2e: 4 passed, 0 failed"
