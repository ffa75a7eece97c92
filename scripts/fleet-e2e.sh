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
# "Failed" = non-2xx answers + socket errors (connect, read, write, timeout; each
# kind is in the result line, since each points at a different hop).
# Exits non-zero on the first broken promise; always tears the fleet down.
# Takes about 4 minutes once the images exist (the first inferd image build
# compiles every dependency: ~15 min on 2 cores).
#
# Knobs: CONNS (16), LOAD_S (20), E2E_PROJECT (inferd-e2e), LB_PORT (8080) and
# PROMETHEUS_PORT (9090) on 127.0.0.1, KEEP=1 leaves the fleet up.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C   # sort and join below must agree on order

PROJECT=${E2E_PROJECT:-inferd-e2e}
CONNS=${CONNS:-16}
LOAD_S=${LOAD_S:-20}
export LB_PORT=${LB_PORT:-8080} PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
LB=http://127.0.0.1:$LB_PORT
PROM=http://127.0.0.1:$PROMETHEUS_PORT
OUT=${OUT:-target/fleet-e2e}
# wrk's default 2 s timeout would count a slow-but-successful answer as failed
# while a replica restarts; 10 s still catches a request that hangs.
WRK=(wrk -t2 -c"$CONNS" --timeout 10s -s scripts/fleet-zipf.lua)
export ZIPF_ROWS=${ZIPF_ROWS:-5000} ZIPF_S=${ZIPF_S:-1.0}
# Per-request log lines through Docker's log driver would cost more CPU than the
# requests themselves on 2 cores; lifecycle lines stay.
export LOG_LEVEL=${LOG_LEVEL:-info,inferd::http::observe=warn}
mkdir -p "$OUT"
# The replicas serve a copy of models/ from the host (read-only), with the admin
# API on, so step 5 can add a version without rebuilding anything.
OVERRIDE=compose.models.yaml
MODEL_DIR="$(cd "$OUT" && pwd)/models"
INFERD_ADMIN_TOKEN=${INFERD_ADMIN_TOKEN:-e2e-$(date +%s%N | sha256sum | head -c 24)}
export MODEL_DIR INFERD_ADMIN_TOKEN
rm -rf "$MODEL_DIR" && cp -r models "$MODEL_DIR" && chmod -R a+rX "$MODEL_DIR"

# shellcheck source=scripts/fleet-lib.sh
. scripts/fleet-lib.sh

teardown() {
    local rc=$?
    if [ "${KEEP:-0}" = 1 ]; then
        log "KEEP=1: fleet left up (docker-compose -p $PROJECT down -v to remove)"
    else
        log "tearing down"
        compose logs --no-color >"$OUT/compose.log" 2>&1 || true
        # HAProxy logs only what went wrong: requests retried, failed or cut off
        # (option httplog: server, timers, termination state) and servers going
        # down or up. On a failure both are printed apart, since a burst of
        # state changes would push the request lines out of one short tail.
        # (The whole log stays in $OUT/compose.log.)
        if [ "$rc" != 0 ]; then
            log "the lb's logged requests (retried, failed or cut off), last 40:"
            grep -E '^lb_1 .*"[A-Z]+ /[^"]* HTTP/' "$OUT/compose.log" | tail -40 >&2 || true
            log "the lb's last server state changes:"
            grep -E '^lb_1 .*Server ' "$OUT/compose.log" | tail -20 >&2 || true
        fi
        compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    exit "$rc"
}

# --- tools and images ----------------------------------------------------------------
ensure_tools

build_images

# The configs as the images' own tools read them (promtool also loads alerts.yml).
docker run --rm --entrypoint promtool -v "$PWD/config:/c:ro" inferd-base/prometheus:bookworm \
    check config /c/prometheus-fleet.yml >"$OUT/promtool.log" 2>&1 \
    || { cat "$OUT/promtool.log" >&2; die "config/prometheus-fleet.yml"; }
docker run --rm --entrypoint haproxy -v "$PWD/config:/c:ro" inferd-base/haproxy:bookworm \
    -c -q -f /c/haproxy.cfg || die "config/haproxy.cfg"

trap teardown EXIT
compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

# --- the fleet ---------------------------------------------------------------------------
log "starting the fleet (project $PROJECT)"
compose up -d >"$OUT/up.log" 2>&1 || { cat "$OUT/up.log" >&2; die "compose up"; }
wait_for 90 "3 replicas UP behind the lb" fleet_ready 3
[ "$(replicas | wc -l)" -eq 3 ] || die "expected 3 replicas, found $(replicas | wc -l)"
log "fleet up: 3 replicas, lb on $LB"

# --- 0. the image: non-root, and Docker's HEALTHCHECK (inferd healthcheck) passes -----
all_healthy() {
    [ "$(docker inspect -f '{{.State.Health.Status}}' $(replicas) | grep -c '^healthy$')" -eq 3 ]
}
wait_for 45 "Docker to report 3 healthy replicas" all_healthy
uids=$(for c in $(replicas); do docker exec "$c" id -u; done | sort -u | xargs)
[ "$uids" = 10001 ] || die "replicas run as uid(s) $uids, expected 10001"
echo "RESULT 0 image: 3 replicas healthy by their HEALTHCHECK (inferd healthcheck), uid $uids"

# A replica answering /readyz 200 itself, asked from inside the lb container on
# the fleet's network. HAProxy 2.6 counts a replica UP as soon as it is back in DNS,
# before it listens; stopping the next one then would leave two replicas refusing
# connections, and a key whose two nearest servers on the hash ring are those two
# has its retries alternate between them (a redispatch avoids only the server
# tried last). So a rolling restart waits for this, as Kubernetes waits for the
# readiness probe.
replica_ready() { # replica_ready CONTAINER
    local ip status
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1")
    [ -n "$ip" ] || return 1
    status=$(docker exec "$(lb_id)" bash -c "exec 3<>/dev/tcp/$ip/8080 &&
        printf 'GET /readyz HTTP/1.0\r\nHost: inferd\r\n\r\n' >&3 && head -c 12 <&3" 2>/dev/null) || return 1
    [[ $status =~ ^HTTP/1.[01]\ 200 ]]
}

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
wait_for 60 "the killed replica ready" replica_ready "$victim"
wait_for 60 "the killed replica back UP" fleet_ready 3

# --- 2. rolling restart under load ----------------------------------------------------------
# Long enough for three stop/start cycles; wrk keeps going until its end.
load_start $((LOAD_S * 3)) rolling
sleep 3
for c in $(replicas); do
    docker stop -t 30 "$c" >/dev/null    # SIGTERM, then wait for the drain to end
    docker start "$c" >/dev/null
    wait_for 60 "replica ${c:0:12} ready" replica_ready "$c"
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
scaled_at=$(date +%s.%N)
new_serving() { # every slot that has served since before the scale-up
    join -a1 -e0 -o 1.1,1.2,2.2 <(served_by_slot) <(echo "$before") \
        | awk '$2 > $3' | wc -l
}
five_serving() { [ "$(new_serving)" -ge 5 ]; }
wait_for 12 "5 replicas serving" five_serving
took=$(awk -v a="$(date +%s.%N)" -v b="$scaled_at" 'BEGIN {printf "%.1f", a - b}')
awk -v t="$took" 'BEGIN {exit !(t <= 10)}' || die "5 replicas served only after $took s, not within 10 s"
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
# p99: histogram_quantile interpolates inside a bucket (they step 1-2.5-5 per
# decade, so one bucket spans up to 2.5x: 50 to 100 ms here), which alone can read
# up to 2x low or 1.25x high; on top of that the server's histogram cannot see the
# lb hop and wrk's own queueing on 2 cores shared by a dozen processes. Runs here
# read 0.50 to 0.72 (the 0.50 failed the earlier 0.5 bound), so the bound leaves
# room below the lowest seen: 0.33x to 1.25x. Seconds read as milliseconds, or a
# wrong bucket set, would still be 1000x or 10x off.
p99_ok = wrk_p99_ms * 0.33 <= p99_ms <= wrk_p99_ms * 1.25
print(f"RESULT 4 fleet metrics: PromQL rate={rate:.1f}/s wrk rate={wrk_rate:.1f}/s "
      f"(ratio {rate / wrk_rate:.3f}, tolerance 0.10); PromQL p99={p99_ms:.2f} ms "
      f"wrk p99={wrk_p99_ms:.2f} ms (ratio {p99_ms / wrk_p99_ms:.2f}, allowed 0.33..1.25)")
sys.exit(0 if rate_ok and p99_ok else 1)
EOF

# --- 5. a model version rolled out replica by replica through the admin API -----------------
# Replicas publish no port: each is called from inside the lb container, on the
# fleet's own network (bash's /dev/tcp), with the admin token.
replica_http() { # replica_http CONTAINER PATH BODY: POST, prints the raw response
    local ip
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1")
    printf 'POST %s HTTP/1.0\r\nHost: inferd\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "$2" "$INFERD_ADMIN_TOKEN" "${#3}" "$3" |
        docker exec -i "$(lb_id)" bash -c "exec 3<>/dev/tcp/$ip/8080 && cat >&3 && cat <&3"
}
ROW='{"instances": [[0.8, -0.3, 1.2, 0.1, -0.5, 0.4, 0.0, 0.9, -1.1, 0.3, 0.2, -0.2, 0.6, -0.7, 0.1, 0.5]]}'
# (Responses are read whole into a variable before grep: with pipefail, grep -q
# stopping early would fail the writer with SIGPIPE.)
from_v2() { grep -qi '^x-inferd-model-version: 2' <<<"$1"; }
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$LB/v2/repository/index")
[ "$code" = 401 ] || die "the admin API without a token answered $code, expected 401"
mkdir "$MODEL_DIR/stock-forecaster/.2"
cp "$MODEL_DIR/stock-forecaster/1/model.onnx" "$MODEL_DIR/stock-forecaster/.2/"
chmod -R a+rX "$MODEL_DIR" && mv "$MODEL_DIR/stock-forecaster/.2" "$MODEL_DIR/stock-forecaster/2"
load_start $((LOAD_S * 2)) model-update
sleep 3
updated=0
for c in $(replicas); do
    answer=$(replica_http "$c" /v2/repository/models/stock-forecaster/load '')
    grep -q '^HTTP/1.[01] 200 ' <<<"$answer" || die "admin load on replica ${c:0:12}: $answer"
    answer=$(replica_http "$c" /predict "$ROW")
    from_v2 "$answer" || die "replica ${c:0:12} does not answer from version 2 after its load: $answer"
    updated=$((updated + 1))
    log "replica ${c:0:12} serves version 2 ($updated updated)"
    sleep 2
done
load_wait model-update
result=$(load_result model-update)
check_no_failures "model update" "$result"
for _ in $(seq 20); do
    answer=$(curl -fsS -D - -o /dev/null "$LB/predict" -H 'content-type: application/json' -d "$ROW")
    from_v2 "$answer" || die "an answer through the lb did not come from version 2: $answer"
done
echo "RESULT 5 rolling model update through the admin API: $updated replicas moved to version 2 one at a time under load; requests=$(jq .requests <<<"$result") failed=$(jq .failed <<<"$result"); 20 of 20 answers through the lb from version 2"

echo "fleet-e2e: 6 passed, 0 failed"
