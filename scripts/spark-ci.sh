#!/usr/bin/env bash
# Spark through inferd (README "Batch scoring"): starts inferd on a free loopback
# port, writes a 100k-row Parquet file, scores it with Spark local[2] whose
# predict_batch_udf calls inferd over the V2 binary protocol (clients/spark/score.py),
# scores it again with `inferd score`, and checks both outputs are equal bit for bit
# (clients/spark/check.py).
#
# Uses target/debug/inferd (built by `cargo test`) unless INFERD_BIN names another
# binary. pyspark and friends (pinned in clients/spark/requirements.txt) live in a
# virtualenv under target/ (SPARK_VENV to move it), reinstalled only when the pins
# change. Spark 4 needs Java 17: installed from Debian's packages when `java` is
# missing. About 1 minute once the virtualenv exists.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=${SPARK_VENV:-target/spark-venv}
bin=${INFERD_BIN:-target/debug/inferd}
rows=${SPARK_CI_ROWS:-100000}
started=$(date +%s)

if ! command -v java >/dev/null 2>&1; then
    echo "==> installing Java 17 (openjdk-17-jre-headless) for Spark"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
fi

if [ ! -x "$bin" ]; then
    echo "spark-ci: no inferd binary; building target/debug/inferd"
    cargo build --bin inferd
fi

. scripts/spark-venv.sh

log=$(mktemp)
"$bin" --listen 127.0.0.1:0 --model-repository models --log-format json >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

# The kernel picks the port; the "listening" log line says which.
address=""
for _ in $(seq 1 600); do
    address=$(sed -n '/"listening"/s/.*"address":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
    [ -n "$address" ] && break
    kill -0 "$server" 2>/dev/null || { echo "spark-ci: inferd exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$address" ] || { echo "spark-ci: inferd did not report listening within 60 s" >&2; exit 1; }

echo "==> Spark local[2] + inferd at $address vs inferd score, $rows rows (ready after $(( $(date +%s) - started )) s)"
# Spark's Python workers must use the virtualenv's interpreter too, and Spark
# stays on loopback (it would otherwise bind the host's first interface).
export PYSPARK_PYTHON="$venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$venv/bin/python"
export SPARK_LOCAL_IP=127.0.0.1
timeout 600 "$venv/bin/python" clients/spark/check.py --url "$address" --inferd "$bin" \
    --models models --rows "$rows"
echo "spark-ci: done in $(( $(date +%s) - started )) s"
