"""The measuring half of scripts/score-bench.sh (README "Batch scoring").

Subcommands, each printing one JSON line {"path", "model", "rows", "seconds",
"rows_per_s"} on stdout:
  gen    writes N rows of a bundled model's features (plus an id column) to Parquet;
  ort    onnxruntime driven from Python over pyarrow record batches, writing the
         same output file as `inferd score` (input columns + output columns);
  spark  Spark local[2], predict_batch_udf calling either a running inferd
         (--url, clients/spark/score.py) or onnxruntime inside each task;
  ray    Ray Data on 2 CPUs, map_batches with 2 actors calling either a running
         inferd (--url, clients/ray/score.py) or onnxruntime inside each actor.
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


def record_batches(source):
    """The file's rows in batches of BATCH_ROWS, one row group in memory at a time.
    ParquetFile.iter_batches kept every row group it had read (pyarrow 26: 24 GB
    resident when killed partway through a 31 GB file); read_row_group frees each."""
    for group in range(source.num_row_groups):
        yield from source.read_row_group(group).to_batches(max_chunksize=BATCH_ROWS)


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
    for batch in record_batches(source):
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


class OrtActor:
    """Ray's in-actor alternative: the model in the actor, one thread each (two
    actors share the 2 CPUs as Spark's two tasks do)."""

    def __init__(self, onnx, names):
        import onnxruntime as rt

        opts = rt.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = rt.InferenceSession(onnx, opts, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0].name
        self.outs = [o.name for o in self.sess.get_outputs()]
        self.names = names

    def __call__(self, batch):
        x = np.column_stack([batch.column(n).to_numpy() for n in self.names]).astype(np.float32, copy=False)
        for name, y in zip(self.outs, self.sess.run(self.outs, {self.inp: x})):
            y = y.reshape(len(x), -1)
            columns = [name] if y.shape[1] == 1 else [f"{name}_{i}" for i in range(y.shape[1])]
            for i, column in enumerate(columns):
                batch = batch.append_column(column, pa.array(y[:, i]))
        return batch


def ray_data(args):
    import ray

    sys.path.insert(0, str(ROOT / "clients" / "ray"))
    import score as ray_score

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    names = features(args.model)
    started = time.monotonic()
    if args.url:
        ds = ray_score.score(args.url, args.model, names, args.input)
        path = "ray+inferd"
    else:
        onnx = str(ROOT / "models" / args.model / "1" / "model.onnx")
        # Half a CPU per actor, as clients/ray/score.py reserves: whole-CPU actors
        # on 2 CPUs leave none for reading and writing.
        ds = ray.data.read_parquet(args.input).map_batches(
            OrtActor, fn_constructor_args=(onnx, names), batch_format="pyarrow",
            batch_size=4096, compute=ray.data.ActorPoolStrategy(size=2), num_cpus=0.5)
        path = "ray+onnxruntime"
    ds.write_parquet(args.output)
    rows = pq.read_table(args.output, columns=["id"]).num_rows
    seconds = time.monotonic() - started
    ray.shutdown()
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
    r = sub.add_parser("ray")
    for q in (o, s, r):
        q.add_argument("--model", required=True)
        q.add_argument("--input", required=True)
        q.add_argument("--output", required=True)
    o.add_argument("--threads", type=int, default=2)
    s.add_argument("--url", default="")
    r.add_argument("--url", default="")
    args = p.parse_args()
    {"gen": gen, "ort": ort, "spark": spark, "ray": ray_data}[args.cmd](args)


if __name__ == "__main__":
    main()
