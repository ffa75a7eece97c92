"""Score a Parquet dataset with Ray Data, each batch sent to inferd.

Ray Data's `map_batches` hands each batch of rows, as a pyarrow table, to a pool
of actors; each actor holds one `tritonclient.http` client (clients/inferd_v2.py)
and sends the batch's feature columns to an inferd URL over the V2 binary tensor
protocol, as clients/spark/score.py does from Spark. The output has the input's
columns plus one column per model output column, named as `inferd score` names
them, so the three paths give the same table (README "Batch scoring").

Deployment: point --url at an inferd on each Ray worker node's own host, or at the
fleet's load balancer (compose.yaml's HAProxy).

    python clients/ray/score.py --url 127.0.0.1:8080 --model stock-forecaster \\
        --input in.parquet --output out-dir --features lag1,lag2,...,lag16
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import inferd_v2  # noqa: E402
from inferd_v2 import add_arguments, make_predict_fn, output_columns  # noqa: E402


class Predictor:
    """One per Ray actor: its own client, so its connection serves every batch the
    actor is given."""

    def __init__(self, url, model, version, input_name, columns, features):
        self.predict = make_predict_fn(url, model, version, input_name, columns)()
        self.features = features

    def __call__(self, batch: pa.Table) -> pa.Table:
        x = np.column_stack([batch.column(n).to_numpy() for n in self.features])
        for name, values in self.predict(x).items():
            batch = batch.append_column(pa.field(name, pa.float32(), nullable=False),
                                        pa.array(values, type=pa.float32()))
        return batch


def score(url, model, features, input_path, version="", batch_size=4096, actors=2,
          actor_cpus=0.5):
    """A Ray Dataset of the input's rows with the model's output columns appended
    (lazy: it runs when written or consumed). Needs `ray.init()` first.

    Each actor reserves `actor_cpus` of Ray's CPUs: it mostly waits on inferd, and
    actors reserving whole CPUs would leave none to the tasks that read and write
    the files (with 2 actors on 2 CPUs the job waits forever)."""
    import ray

    # Ray's workers cannot import this file or clients/inferd_v2.py (they are not
    # installed packages), so the actor's class travels by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(inferd_v2)
    input_name, width, columns = output_columns(url, model, version)
    if len(features) != width:
        raise SystemExit(f"{len(features)} feature columns given, model {model} takes {width}")
    return ray.data.read_parquet(input_path).map_batches(
        Predictor,
        fn_constructor_args=(url, model, version, input_name, columns, features),
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=actor_cpus,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(p)
    p.add_argument("--actors", type=int, default=2, help="actors sending requests at once")
    p.add_argument("--actor-cpus", type=float, default=0.5, help="Ray CPUs each actor reserves")
    args = p.parse_args()
    import ray

    ray.init(include_dashboard=False)
    try:
        score(args.url, args.model, args.features.split(","), args.input, args.version,
              args.batch_size, args.actors, args.actor_cpus).write_parquet(args.output)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
