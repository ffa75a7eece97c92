"""onnxruntime alone, in process, on one thread: the rows/s a model reaches with
no server in front of it, at each batch size (README "Performance", the peers).

    python scripts/ort_alone.py models/dense-net/1/model.onnx --batches 1,8,32,64,128
    python scripts/ort_alone.py MODEL --batches 64 --seconds 5

Inputs are the model's own reference rows (reference.json beside the model),
repeated to the batch size, so the arithmetic is the served one. Each batch size
is timed for --seconds after one warm-up run; one line of JSON per batch size
({"batch": B, "rows_per_s": R, "ms_per_run": M}) and a last line naming the best.
The caller pins the process to a core (taskset); onnxruntime is told to use one
intra-op and one inter-op thread, as a peer on one core should.
"""

import argparse
import json
import pathlib
import time

import numpy as np
import onnxruntime as ort


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    reference = json.loads((pathlib.Path(args.model).parent / "reference.json").read_text())
    rows = np.asarray(reference["inputs"], dtype=np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    best = None
    for batch in (int(b) for b in args.batches.split(",")):
        feed = {name: rows[np.arange(batch) % len(rows)]}
        session.run(None, feed)
        runs, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < args.seconds:
            session.run(None, feed)
            runs += 1
        point = {"batch": batch, "rows_per_s": round(runs * batch / elapsed, 1),
                 "ms_per_run": round(elapsed / runs * 1e3, 3)}
        print(json.dumps(point), flush=True)
        if best is None or point["rows_per_s"] > best["rows_per_s"]:
            best = point
    print(json.dumps({"best": best}))


if __name__ == "__main__":
    main()
