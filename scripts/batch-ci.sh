#!/usr/bin/env bash
# The batch clients through inferd (README "Batch scoring"): starts inferd on a free
# loopback port, writes a 100k-row Parquet file, scores it through inferd over the
# V2 binary protocol with Spark local[2]'s predict_batch_udf (clients/spark/score.py)
# and with Ray Data's map_batches (clients/ray/score.py), scores it again with
# `inferd score`, and checks each client's output equals it bit for bit
# (clients/batch_check.py).
#
# Uses target/debug/inferd (built by `cargo test`) unless INFERD_BIN names another
# binary. Each client's pinned packages (clients/{spark,ray}/requirements.txt) live
# in a virtualenv under target/ (SPARK_VENV, RAY_VENV to move them), reinstalled
# only when the pins change. Spark 4 needs Java 17: installed from Debian's packages
# when `java` is missing. About 2 minutes once the virtualenvs exist.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=${INFERD_BIN:-target/debug/inferd}
rows=${BATCH_CI_ROWS:-100000}
started=$(date +%s)

if ! command -v java >/dev/null 2>&1; then
    echo "==> installing Java 17 (openjdk-17-jre-headless) for Spark"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
fi

if [ ! -x "$bin" ]; then
    echo "batch-ci: no inferd binary; building target/debug/inferd"
    cargo build --bin inferd
fi

spark_venv=${SPARK_VENV:-target/spark-venv}
ray_venv=${RAY_VENV:-target/ray-venv}
venv=$spark_venv requirements=clients/spark/requirements.txt
. scripts/client-venv.sh
venv=$ray_venv requirements=clients/ray/requirements.txt
. scripts/client-venv.sh

log=$(mktemp)
"$bin" --listen 127.0.0.1:0 --model-repository models --log-format json >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

# The kernel picks the port; the "listening" log line says which.
address=""
for _ in $(seq 1 600); do
    address=$(sed -n '/"listening"/s/.*"address":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
    [ -n "$address" ] && break
    kill -0 "$server" 2>/dev/null || { echo "batch-ci: inferd exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$address" ] || { echo "batch-ci: inferd did not report listening within 60 s" >&2; exit 1; }

echo "==> Spark local[2] + inferd at $address vs inferd score, $rows rows (ready after $(( $(date +%s) - started )) s)"
# Spark's Python workers must use the virtualenv's interpreter too, and Spark
# stays on loopback (it would otherwise bind the host's first interface).
PYSPARK_PYTHON="$spark_venv/bin/python" PYSPARK_DRIVER_PYTHON="$spark_venv/bin/python" \
SPARK_LOCAL_IP=127.0.0.1 \
    timeout 600 "$spark_venv/bin/python" clients/batch_check.py --client spark \
    --url "$address" --inferd "$bin" --models models --rows "$rows"

echo "==> Ray Data (2 CPUs) + inferd at $address vs inferd score, $rows rows"
# Ray's usage reporting stays off (no network), and its head node on loopback:
# Ray takes the host's first interface on Linux unless this variable, meant for
# single-machine use on macOS and Windows, is false (ray/_private/services.py).
RAY_USAGE_STATS_ENABLED=0 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 \
    timeout 300 "$ray_venv/bin/python" clients/batch_check.py --client ray \
    --url "$address" --inferd "$bin" --models models --rows "$rows"
echo "batch-ci: done in $(( $(date +%s) - started )) s"
