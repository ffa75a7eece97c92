# Shared by scripts/fleet-e2e.sh and scripts/fleet-cache-policy.sh: compose,
# HAProxy's metrics, Prometheus queries, bounded waits, wrk in the background.
# Expects PROJECT, OUT, LB, PROM and the WRK array to be set by the caller.

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
compose() { docker-compose -p "$PROJECT" -f compose.yaml ${OVERRIDE:+-f "$OVERRIDE"} "$@"; }

# Installs what the fleet scripts use, from Debian's packages, if missing.
ensure_tools() {
    local need=()
    for tool in wrk jq curl debootstrap docker-compose; do
        command -v "$tool" >/dev/null || need+=("$tool")
    done
    [ ${#need[@]} -eq 0 ] && return
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

replicas() {
    docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
        --filter label=com.docker.compose.service=inferd | sort
}
lb_id() { compose ps -q lb; }

# HAProxy's Prometheus exporter, read from inside the lb container (its port is
# not published; the image has bash, whose /dev/tcp is enough for one GET).
lb_metrics() {
    docker exec "$(lb_id)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8404 &&
        printf "GET /metrics HTTP/1.0\r\nHost: lb\r\n\r\n" >&3 && cat <&3'
}

# Sum of an HAProxy metric over the lines matching a filter regex.
lb_sum() {
    lb_metrics | grep -E "^$1\{[^}]*$2" | awk '{s += $NF} END {printf "%d\n", s}'
}

servers_up() { lb_sum haproxy_server_status 'proxy="inferd".*state="UP"'; }

# 2xx answers per HAProxy server slot, "server count" lines.
served_by_slot() {
    lb_metrics | grep -E '^haproxy_server_http_responses_total\{proxy="inferd".*code="2xx"' \
        | sed -E 's/.*server="([^"]+)".* ([0-9.e+]+)$/\1 \2/' | sort
}

# Base images (skipped when present) and the inferd image (cached layers reused).
# The lb and prometheus bases (network and disk bound) are made while the inferd
# image compiles (CPU bound): on a fresh machine that hides their minutes.
build_images() {
    local t0=$SECONDS pid
    bash scripts/base-images.sh runtime builder
    bash scripts/base-images.sh haproxy prometheus >"$OUT/base-images.log" 2>&1 &
    pid=$!
    compose build inferd >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log" >&2; die "image build"; }
    wait "$pid" || { cat "$OUT/base-images.log" >&2; die "base images"; }
    log "images ready ($((SECONDS - t0)) s)"
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        [ $SECONDS -lt $deadline ] || die "timed out waiting for $what"
        sleep 0.5
    done
}

fleet_ready() { # fleet_ready N: N servers UP in HAProxy and the lb answers /readyz
    [ "$(servers_up 2>/dev/null || echo 0)" -ge "$1" ] &&
        curl -fsS -o /dev/null --max-time 2 "$LB/readyz"
}

promql() { # promql QUERY [TIME]: the first sample's value, or "NaN"
    curl -fsS "$PROM/api/v1/query" --data-urlencode "query=$1" \
        ${2:+--data-urlencode "time=$2"} | jq -r '.data.result[0].value[1] // "NaN"'
}

# Runs wrk for $1 seconds in the background; its result line lands in $OUT/$2.wrk.
load_start() {
    "${WRK[@]}" -d "$1s" "$LB" >"$OUT/$2.wrk" 2>&1 &
    LOAD_PID=$!
}
load_wait() { # load_wait NAME: waits for wrk (in this shell: wrk is its child)
    wait "$LOAD_PID" || die "wrk exited non-zero ($1): $(cat "$OUT/$1.wrk")"
}
load_result() { # load_result NAME: wrk's JSON result line
    grep '^wrk-result ' "$OUT/$1.wrk" | sed 's/^wrk-result //'
}

check_no_failures() { # check_no_failures NAME JSON
    local failed requests
    failed=$(jq .failed <<<"$2")
    requests=$(jq .requests <<<"$2")
    [ "$requests" -gt 0 ] || die "$1: wrk sent no request"
    if [ "$failed" -ne 0 ]; then
        lb_failure_counters
        die "$1: $failed of $requests requests failed: $2"
    fi
}

# What could explain failed requests that HAProxy did not log: its error, abort,
# retry and redispatch counters for the inferd frontend and backend (totals since
# the lb started), and each container's restarts (a restarted lb drops every
# client connection at once).
lb_failure_counters() {
    log "the lb's error, abort and retry counters (since it started):"
    lb_metrics 2>/dev/null | grep -E '^haproxy_(frontend|backend)_[a-z_]*(errors|aborts|warnings)_total\{proxy="inferd"' >&2 || true
    log "containers' restarts:"
    docker inspect -f '{{.Name}} restarts={{.RestartCount}} started={{.State.StartedAt}}' \
        $(compose ps -q) >&2 || true
}

