"""CI check of the batch clients (scripts/batch-ci.sh): writes a Parquet file of
forecaster rows, scores it through a running inferd with Spark local[2]
(clients/spark/score.py) or Ray Data (clients/ray/score.py), scores it again with
`inferd score`, and asserts both outputs are equal: every input column, and the
forecasts bit for bit, since both paths run the same engine on the same float32
rows in batches of at most max_batch_size rows.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CLIENTS = Path(__file__).resolve().parent
MODEL = "stock-forecaster"
FEATURES = [f"lag{i}" for i in range(1, 17)]


def write_input(path, rows, seed=17):
    """An id column, 16 float32 lags shaped like daily returns, and a text column
    that must pass through both paths untouched."""
    rng = np.random.default_rng(seed)
    lags = rng.standard_t(df=4, size=(rows, len(FEATURES))).astype(np.float32)
    columns = {"id": pa.array(np.arange(rows, dtype=np.int64))}
    columns.update({name: pa.array(lags[:, i]) for i, name in enumerate(FEATURES)})
    columns["ticker"] = pa.array([f"T{i % 500:03d}" for i in range(rows)])
    pq.write_table(pa.table(columns), path, row_group_size=32_768)


def read_sorted(path):
    return pq.read_table(path).sort_by("id")


def through_spark(url, source, out):
    from pyspark.sql import SparkSession

    sys.path.insert(0, str(CLIENTS / "spark"))
    import score as spark_score

    spark = (SparkSession.builder.master("local[2]").appName("inferd-spark-ci")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        scored = spark_score.score(spark, url, MODEL, FEATURES, str(source))
        scored.write.mode("overwrite").parquet(str(out))
    finally:
        spark.stop()


def through_ray(url, source, out):
    import ray

    sys.path.insert(0, str(CLIENTS / "ray"))
    import score as ray_score

    # Two CPUs as Spark's local[2]; a small object store (the rows are a few MB).
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 << 20,
             log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        ray_score.score(url, MODEL, FEATURES, str(source)).write_parquet(str(out))
    finally:
        ray.shutdown()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--client", required=True, choices=["spark", "ray"])
    p.add_argument("--url", required=True)
    p.add_argument("--inferd", required=True, help="the inferd binary")
    p.add_argument("--models", required=True, help="the model repository")
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args()
    run = {"spark": through_spark, "ray": through_ray}[args.client]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "in.parquet"
        write_input(source, args.rows)

        started = time.monotonic()
        run(args.url, source, tmp / "client-out")
        client_s = time.monotonic() - started

        started = time.monotonic()
        subprocess.run([args.inferd, "score", "--model-repository", args.models, "--model", MODEL,
                        "--input", source, "--output", tmp / "score-out.parquet",
                        "--features", ",".join(FEATURES)], check=True)
        score_s = time.monotonic() - started

        client_out = read_sorted(tmp / "client-out")
        score_out = read_sorted(tmp / "score-out.parquet")
        source_table = read_sorted(source)

    want_columns = source_table.column_names + ["forecast"]
    assert score_out.column_names == want_columns, score_out.column_names
    assert client_out.column_names == want_columns, client_out.column_names
    assert client_out.num_rows == score_out.num_rows == args.rows
    for name in source_table.column_names:
        assert score_out[name].equals(source_table[name]), f"inferd score changed column {name}"
        assert client_out[name].equals(source_table[name]), f"{args.client} changed column {name}"
    a = client_out["forecast"].to_numpy()
    b = score_out["forecast"].to_numpy()
    assert a.dtype == b.dtype == np.float32, (a.dtype, b.dtype)
    differ = np.flatnonzero(a != b)
    assert differ.size == 0, (
        f"{differ.size} forecasts differ, first at id {differ[0]}: "
        f"{args.client}+inferd {a[differ[0]]!r}, inferd score {b[differ[0]]!r}")
    assert np.isfinite(a).all() and np.unique(a).size > 100, "forecasts look degenerate"
    print(f"batch-ci: {args.rows} rows, {args.client} + inferd {client_s:.1f} s "
          f"({args.rows / client_s:.0f} rows/s), inferd score {score_s:.1f} s; "
          f"outputs equal bit for bit")


if __name__ == "__main__":
    main()
