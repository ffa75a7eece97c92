#!/usr/bin/env bash
# The autoscaling signal on the compose fleet (compose.yaml: inferd x3 behind the
# HAProxy lb on 127.0.0.1:8080, Prometheus on 127.0.0.1:9090), with wrk and
# tools/autoscale/paced.lua at the load balancer (tools/autoscale/autoscale/signal.py):
# first 8 calibration steps of 30 s, past the latency objective, for this fleet's own
# capacity per replica and in-flight target; then 6 steps of 65 s at other loads,
# each ending with the in-flight metric read from Prometheus with the
# prometheus-adapter rule's own expression, the HPA's desired count from it, and
# the capacity model's count beside it. Prints both tables; fails if the metric
# does not rise with load. Each replica runs under a CPU limit (REPLICA_CPUS, below).
# Run by hand (README "Autoscaling"), not by CI.
#
# Starts its own compose project (inferd-autoscale) and removes it afterwards. The
# images come from scripts/base-images.sh and `docker-compose build` (both skip
# what exists; nothing is pulled). About 11 minutes once the images exist.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PROJECT=inferd-autoscale
LB=http://127.0.0.1:8080
PROM=http://127.0.0.1:9090
export PYTHONPATH=$ROOT/tools/autoscale${PYTHONPATH:+:$PYTHONPATH}
compose() { docker-compose -p "$PROJECT" -f compose.yaml "$@"; }
# Per-request log lines through Docker's log driver cost more CPU than the
# requests on this machine (README "Scale-out"): off, as in scripts/fleet-e2e.sh.
export LOG_LEVEL=${LOG_LEVEL:-info,inferd::http::observe=warn}

python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check PyYAML
if ! command -v wrk >/dev/null || ! command -v docker-compose >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk docker-compose >/dev/null
fi
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if listening 8080 || listening 9090; then
    echo "127.0.0.1:8080 or :9090 already answers: another fleet is up; stop it first" >&2
    exit 1
fi

bash scripts/base-images.sh >/dev/null
compose build inferd >/dev/null
cleanup() { compose down --volumes --timeout 30 >/dev/null 2>&1 || true; }
trap cleanup EXIT
compose up -d >/dev/null

ready() { # the lb answers and Prometheus scrapes 3 replicas
    curl -fsS -o /dev/null --max-time 2 "$LB/readyz" 2>/dev/null &&
        [ "$(curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=count(up{job="inferd"} == 1)' 2>/dev/null |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" -ge 3 ]
}
for _ in $(seq 1 90); do ready && break; sleep 2; done
ready || { echo "the fleet is not ready: lb $LB/readyz and 3 replicas up in $PROM" >&2; exit 1; }

# The fleet and wrk (signal.py) at the highest CPU weight, each container in its
# own session: other work on the machine (builds) then takes little from them.
for id in $(compose ps -q); do
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    [ -w "/proc/$pid/autogroup" ] && echo -20 >"/proc/$pid/autogroup" || true
done

# Each replica limited to REPLICA_CPUS cores by a CFS quota, as a pod's CPU limit is
# enforced (the kernel's default 100 ms period, as the kubelet's): a replica's
# capacity is then its own, not whatever share of the 2 cores the others leave it,
# so capacity adds up across replicas as the HPA's formula assumes. Three at 0.4
# leave 0.8 of a core to HAProxy, Prometheus and wrk. REPLICA_CPUS=0 sets no limit.
REPLICA_CPUS=${REPLICA_CPUS:-0.4}
if [ "$REPLICA_CPUS" != 0 ]; then
    docker update --cpus "$REPLICA_CPUS" $(compose ps -q inferd) >/dev/null
    echo "each replica limited to $REPLICA_CPUS CPU (CFS quota)"
fi

start=$(date +%s)
python3 -m autoscale.signal --lb "$LB" --prometheus "$PROM" --seconds 65 "$@"
echo "signal experiment took $(( $(date +%s) - start )) s"
