#!/usr/bin/env bash
# The autoscaling signal on the compose fleet (compose.yaml: inferd x3 behind the
# HAProxy lb on 127.0.0.1:8080, Prometheus on 127.0.0.1:9090): offered load in
# steps at the load balancer (wrk, bounded: 5 steps of 75 s), and at each step the
# in-flight metric read from Prometheus with the prometheus-adapter rule's own
# query, the HPA's desired count from it, and the capacity model's count beside
# it. Prints the table (tools/autoscale/autoscale/signal.py).
#
# Uses the fleet if it is already up; otherwise starts it from the images that
# `docker-compose build` (or scripts/fleet-e2e.sh) made, and stops it afterwards.
# Needs the images: nothing can be pulled here. About 7 minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LB=http://127.0.0.1:8080
PROM=http://127.0.0.1:9090
export PYTHONPATH=$ROOT/tools/autoscale${PYTHONPATH:+:$PYTHONPATH}

python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check PyYAML
if ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

fleet_up() {
    curl -fsS -o /dev/null "$LB/readyz" 2>/dev/null &&
        [ "$(curl -fsS "$PROM/api/v1/query" --data-urlencode 'query=count(up{job="inferd"} == 1)' 2>/dev/null |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" -ge 3 ]
}

started=0
if ! fleet_up; then
    echo "starting the compose fleet (docker-compose up -d, images already built)"
    docker-compose up -d --no-build
    started=1
fi
cleanup() { if [ "$started" = 1 ]; then docker-compose down --timeout 30 >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
for _ in $(seq 1 90); do fleet_up && break; sleep 2; done
fleet_up || { echo "the fleet is not ready: lb $LB/readyz and 3 replicas up in $PROM" >&2; exit 1; }

start=$(date +%s)
python3 -m autoscale.signal --lb "$LB" --prometheus "$PROM" "$@"
echo "signal experiment took $(( $(date +%s) - start )) s"
