"""Score a Parquet dataset with Spark, each task sending its rows to inferd.

Spark's `predict_batch_udf` (pyspark.ml.functions, Spark 3.4 and later) hands each
task's rows to a predict function in numpy batches; here that function is a
`tritonclient.http` client speaking the V2 binary tensor protocol to an inferd
URL, the pattern NVIDIA's spark-rapids examples use with Triton. The output has the
input's columns plus one column per model output column, named as `inferd score`
names them (`<output>`, or `<output>_<i>` for an output with several columns), so
both paths give the same file (README "Batch scoring").

Deployment: point --url at an inferd on the executor's own host (one inferd per
executor host, e.g. a DaemonSet or a sidecar, so rows never leave the machine), or
at the fleet's load balancer (compose.yaml's HAProxy) when the scoring should share
the serving fleet.

    python clients/spark/score.py --url 127.0.0.1:8080 --model stock-forecaster \\
        --input in.parquet --output out-dir --features lag1,lag2,...,lag16
"""

import argparse
import sys
from pathlib import Path

from pyspark.ml.functions import predict_batch_udf
from pyspark.sql import SparkSession, functions as F
from pyspark.sql.types import FloatType, StructField, StructType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inferd_v2 import add_arguments, make_predict_fn, output_columns  # noqa: E402


def score(spark, url, model, features, input_path, version="", batch_size=4096):
    """The input DataFrame with the model's output columns appended."""
    input_name, width, columns = output_columns(url, model, version)
    if len(features) != width:
        raise SystemExit(f"{len(features)} feature columns given, model {model} takes {width}")
    names = [n for _, group in columns for n in group]
    udf = predict_batch_udf(
        make_predict_fn(url, model, version, input_name, columns),
        return_type=StructType([StructField(n, FloatType(), False) for n in names]),
        batch_size=batch_size,
        input_tensor_shapes=[[width]],
    )
    df = spark.read.parquet(input_path)
    features_array = F.array(*[F.col(c).cast("float") for c in features])
    scored = df.withColumn("_inferd", udf(features_array))
    return scored.select(*df.columns, *[F.col(f"_inferd.{n}").alias(n) for n in names])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(p)
    p.add_argument("--master", default="local[2]")
    args = p.parse_args()
    spark = SparkSession.builder.master(args.master).appName("inferd-score").getOrCreate()
    try:
        scored = score(spark, args.url, args.model, args.features.split(","), args.input,
                       args.version, args.batch_size)
        scored.write.mode("overwrite").parquet(args.output)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
