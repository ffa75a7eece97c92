"""The measuring half of scripts/score-bench.sh (README "Batch scoring").

Subcommands, each printing one JSON line {"path", "model", "rows", "seconds",
"rows_per_s"} on stdout:
  gen    writes N rows of a bundled model's features (plus an id column) to Parquet;
  ort    onnxruntime driven from Python over pyarrow record batches, writing the
         same output file as `inferd score` (input columns + output columns);
  spark  Spark local[2], predict_batch_udf calling either a running inferd
         (--url, clients/spark/score.py) or onnxruntime inside each task (--onnx).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
WIDTH = {"stock-forecaster": 16, "dense-net": 512}
BATCH_ROWS = 16_384


def features(model):
    return [f"f{i}" for i in range(WIDTH[model])]


def report(path, model, rows, seconds):
    print(json.dumps({"path": path, "model": model, "rows": rows, "seconds": round(seconds, 3),
                      "rows_per_s": round(rows / seconds)}), flush=True)


def gen(args):
    rng = np.random.default_rng(7)
    names = features(args.model)
    schema = pa.schema([("id", pa.int64())] + [(n, pa.float32()) for n in names])
    chunk = 131_072
    with pq.ParquetWriter(args.out, schema) as writer:
        for start in range(0, args.rows, chunk):
            n = min(chunk, args.rows - start)
            x = rng.standard_normal((n, len(names)), dtype=np.float32)
            cols = [pa.array(np.arange(start, start + n, dtype=np.int64))]
            cols += [pa.array(x[:, i]) for i in range(len(names))]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))


def ort(args):
    import onnxruntime as rt

    opts = rt.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    onnx = ROOT / "models" / args.model / "1" / "model.onnx"
    sess = rt.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    outs = [o.name for o in sess.get_outputs()]
    names = features(args.model)
    started = time.monotonic()
    source = pq.ParquetFile(args.input)
    writer, rows = None, 0
    for batch in source.iter_batches(batch_size=BATCH_ROWS):
        x = np.column_stack([batch.column(n).to_numpy() for n in names]).astype(np.float32, copy=False)
        results = sess.run(outs, {inp: x})
        table = pa.Table.from_batches([batch])
        for name, y in zip(outs, results):
            y = y.reshape(len(x), -1)
            if y.shape[1] == 1:
                table = table.append_column(name, pa.array(y[:, 0]))
            else:
                for i in range(y.shape[1]):
                    table = table.append_column(f"{name}_{i}", pa.array(y[:, i]))
        if writer is None:
            writer = pq.ParquetWriter(args.output, table.schema)
        writer.write_table(table)
        rows += len(x)
    writer.close()
    report("onnxruntime+pyarrow", args.model, rows, time.monotonic() - started)


def spark(args):
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql import SparkSession, functions as F
    from pyspark.sql.types import ArrayType, FloatType

    sys.path.insert(0, str(ROOT / "clients" / "spark"))
    import score as spark_score

    # Spark's default 1 GiB heap runs out writing dense-net's 512 float columns
    # (Parquet's dictionary pages); local mode's executor is the driver.
    session = (SparkSession.builder.master("local[2]").appName("score-bench")
               .config("spark.driver.memory", "4g")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    names = features(args.model)
    started = time.monotonic()
    if args.url:
        df = spark_score.score(session, args.url, args.model, names, args.input)
        path = "spark+inferd"
    else:
        onnx = str(ROOT / "models" / args.model / "1" / "model.onnx")

        def make():
            import onnxruntime as rt

            opts = rt.SessionOptions()
            # Two tasks run at once on local[2]: one thread each.
            opts.intra_op_num_threads = 1
            sess = rt.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
            inp, out = sess.get_inputs()[0].name, sess.get_outputs()[0].name

            def predict(x):
                return sess.run([out], {inp: x.astype(np.float32, copy=False)})[0].reshape(len(x), -1)

            return predict

        udf = predict_batch_udf(make, return_type=ArrayType(FloatType()), batch_size=4096,
                                input_tensor_shapes=[[len(names)]])
        src = session.read.parquet(args.input)
        df = src.withColumn("out", udf(F.array(*[F.col(n) for n in names])))
        path = "spark+onnxruntime"
    df.write.mode("overwrite").parquet(args.output)
    rows = session.read.parquet(args.output).count()
    seconds = time.monotonic() - started
    session.stop()
    report(path, args.model, rows, seconds)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--model", required=True)
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--out", required=True)
    o = sub.add_parser("ort")
    s = sub.add_parser("spark")
    for q in (o, s):
        q.add_argument("--model", required=True)
        q.add_argument("--input", required=True)
        q.add_argument("--output", required=True)
    o.add_argument("--threads", type=int, default=2)
    s.add_argument("--url", default="")
    args = p.parse_args()
    {"gen": gen, "ort": ort, "spark": spark}[args.cmd](args)


if __name__ == "__main__":
    main()
