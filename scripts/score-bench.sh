#!/usr/bin/env bash
# Batch scoring throughput (README "Batch scoring"), every path in one run on the
# same cores, so the figures compare with each other:
#   - `inferd score` (release build) on generated Parquet files, with its peak RSS;
#   - onnxruntime driven from Python over pyarrow record batches, 2 threads, writing
#     the same output file (scripts/score_bench.py ort);
#   - Spark local[2] calling a release inferd (clients/spark/score.py) against Spark
#     with onnxruntime inside each task, and Ray Data (2 CPUs) likewise
#     (clients/ray/score.py against onnxruntime inside each actor);
#   - last, the engine alone: `cargo bench --bench hot_path -- score_engine`, the
#     model driven as `inferd score` drives it (chunks of distinct rows, dense-net at
#     16, 32 and 64 rows) with no Parquet, on one thread and on every core: the
#     ceiling of `inferd score`, whose row names the run size `"auto"` picked.
# Prints a Markdown table. Row counts: STOCK_ROWS, DENSE_ROWS, SPARK_ROWS (space-
# separated lists). Needs Java 17 and the virtualenvs of scripts/batch-ci.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STOCK_ROWS=${STOCK_ROWS:-"1000000 10000000"}
DENSE_ROWS=${DENSE_ROWS:-"100000 1000000"}
SPARK_ROWS=${SPARK_ROWS:-"1000000"}
SPARK_DENSE_ROWS=${SPARK_DENSE_ROWS:-"100000"}
venv=${SPARK_VENV:-target/spark-venv} requirements=clients/spark/requirements.txt
py="$venv/bin/python"
. scripts/client-venv.sh
ray_venv=${RAY_VENV:-target/ray-venv}
venv=$ray_venv requirements=clients/ray/requirements.txt
. scripts/client-venv.sh
# Spark stays on loopback (it would otherwise bind the host's first interface).
export PYSPARK_PYTHON="$py" PYSPARK_DRIVER_PYTHON="$py" SPARK_LOCAL_IP=127.0.0.1

# INFERD_BIN measures another build (the README says which one was measured).
if [ -z "${INFERD_BIN:-}" ]; then
    cargo build --release --bin inferd
fi
bin=${INFERD_BIN:-${CARGO_TARGET_DIR:-target}/release/inferd}
work=$(mktemp -d "$PWD/target/score-bench.XXXXXX")
server=""
cleanup() {
    [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
results="$work/results.jsonl"
: >"$results"

features() { "$py" -c "import sys; print(','.join(f'f{i}' for i in range(int(sys.argv[1]))))" "$1"; }
width() { [ "$1" = dense-net ] && echo 512 || echo 16; }

# One `inferd score` run; its rows/s from its last line, its peak RSS from time(1).
score_run() { # model rows input
    local out="$work/out.parquet" stats="$work/time.txt"
    /usr/bin/time -f '%M' -o "$stats" "$bin" score --model-repository models --model "$1" \
        --input "$3" --output "$out" --features "$(features "$(width "$1")")" 2>"$work/score.err"
    local rate rss runs
    rate=$(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$work/score.err" | tail -n 1)
    runs=$(sed -n 's/.*model runs of \([0-9]*\) rows.*/\1/p' "$work/score.err" | tail -n 1)
    rss=$(tail -n 1 "$stats")
    echo "{\"path\": \"inferd score ($runs-row runs)\", \"model\": \"$1\", \"rows\": $2, \"rows_per_s\": $rate, \"peak_rss_mib\": $((rss / 1024))}" | tee -a "$results"
    rm -f "$out"
}

for model in stock-forecaster dense-net; do
    if [ "$model" = stock-forecaster ]; then counts=$STOCK_ROWS; else counts=$DENSE_ROWS; fi
    for rows in $counts; do
        input="$work/$model-$rows.parquet"
        echo "==> $model, $rows rows"
        "$py" scripts/score_bench.py gen --model "$model" --rows "$rows" --out "$input"
        score_run "$model" "$rows" "$input"
        "$py" scripts/score_bench.py ort --model "$model" --input "$input" --output "$work/ort.parquet" | tee -a "$results"
        rm -f "$work/ort.parquet" "$input"
    done
done

echo "==> Spark local[2] and Ray Data: inferd vs onnxruntime in each task or actor"
log="$work/inferd.log"
"$bin" --listen 127.0.0.1:0 --model-repository models --log-format json --log-level warn,inferd=info >"$log" 2>&1 &
server=$!
address=""
for _ in $(seq 1 600); do
    address=$(sed -n '/"listening"/s/.*"address":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
    [ -n "$address" ] && break
    sleep 0.1
done
[ -n "$address" ] || { echo "score-bench: inferd did not start" >&2; exit 1; }
for model in stock-forecaster dense-net; do
    if [ "$model" = stock-forecaster ]; then counts=$SPARK_ROWS; else counts=$SPARK_DENSE_ROWS; fi
    for rows in $counts; do
        input="$work/spark-$model-$rows.parquet"
        "$py" scripts/score_bench.py gen --model "$model" --rows "$rows" --out "$input"
        timeout 1200 "$py" scripts/score_bench.py spark --model "$model" --input "$input" --output "$work/spark-a" --url "$address" | tee -a "$results"
        timeout 1200 "$py" scripts/score_bench.py spark --model "$model" --input "$input" --output "$work/spark-b" | tee -a "$results"
        # Ray's head node on loopback, no usage reporting (scripts/batch-ci.sh).
        RAY_USAGE_STATS_ENABLED=0 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 \
            timeout 1200 "$ray_venv/bin/python" scripts/score_bench.py ray --model "$model" --input "$input" --output "$work/ray-a" --url "$address" | tee -a "$results"
        RAY_USAGE_STATS_ENABLED=0 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 \
            timeout 1200 "$ray_venv/bin/python" scripts/score_bench.py ray --model "$model" --input "$input" --output "$work/ray-b" | tee -a "$results"
        rm -rf "$input" "$work/spark-a" "$work/spark-b" "$work/ray-a" "$work/ray-b"
    done
done

if [ "${SKIP_ENGINE:-0}" = 1 ]; then
    echo "==> engine alone: skipped (SKIP_ENGINE=1)"
else
echo "==> engine alone (cargo bench --bench hot_path -- score_engine)"
cargo bench --bench hot_path -- 'score_engine/' 2>&1 | tee "$work/bench.txt" | grep -E '^score_engine|thrpt' || true
"$py" - "$work/bench.txt" >>"$results" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
unit = {"elem/s": 1, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}
for model, threads, chunk, block in re.findall(r"score_engine/([\w-]+)/(\d+)-threads/(\d+)-rows\s.*?thrpt:\s+\[([^\]]*)\]", text, re.S):
    mid = block.split()[2:4]
    print(json.dumps({"path": f"engine alone ({threads} thread{'s' if threads != '1' else ''}, {chunk}-row runs)",
                      "model": model, "rows": 0, "rows_per_s": round(float(mid[0]) * unit[mid[1]])}))
PY
fi

echo
echo "score-bench: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), one run"
"$py" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| path | model | rows | rows/s | peak RSS |")
print("|---|---|---:|---:|---:|")
for r in rows:
    rss = f"{r['peak_rss_mib']} MiB" if "peak_rss_mib" in r else ""
    rows = f"{r['rows']:,}" if r["rows"] else ""
    print(f"| {r['path']} | {r['model']} | {rows} | {r['rows_per_s']:,} | {rss} |")
PY
