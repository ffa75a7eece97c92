#!/usr/bin/env bash
# Measures one inferd replica for the autoscaling manifests and the simulator, and
# writes tools/autoscale/measured.json (committed): cold start (process start to
# /readyz 200, and `docker run` to ready when an image tag is given), then load in
# steps (wrk with tools/autoscale/paced.lua, 8 s each) against the release binary
# pinned to core 0 with one inference worker, the Deployment's 1-CPU request, wrk on
# core 1: per step the achieved rate, p50/p99, mean in-flight requests, CPU cores and
# resident memory. Workload: dense-net one-row /predict, cache bypassed. Capacity =
# the highest rate with p99 <= 10 ms and no errors. Both processes run at nice -20
# in their own sessions, so builds sharing the machine do not take their cores.
# Not run by CI: timings need a quiet machine. About 2 minutes after the build.
#
#   bash scripts/autoscale-measure.sh [IMAGE]     # e.g. inferd:0.1.0
#   PYTHONPATH=tools/autoscale python3 -m autoscale.derive   # the manifests' numbers
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
[ -x target/release/inferd ] || cargo build --release --bin inferd
args=()
if [ $# -gt 0 ]; then args=(--image "$1"); fi
PYTHONPATH=$ROOT/tools/autoscale python3 -m autoscale.measure --binary target/release/inferd "${args[@]}"
