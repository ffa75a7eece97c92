#!/usr/bin/env python3
"""Per-row cost of onnxruntime on the zoo models benches/hot_path/zoo.rs times.

Same models, same batch (the reference rows repeated to 64 rows), one
intra-op thread, as tract runs one model call on one inference thread.
Prints `family microseconds_per_row` lines for scripts/zoo_bench.sh.
"""

import json
import pathlib
import re
import sys
import time

import numpy as np
import onnxruntime

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = (ROOT / "benches/hot_path/zoo.rs").read_text()
ROWS = int(re.search(r"const ROWS: usize = (\d+);", BENCH).group(1))
FAMILIES = re.findall(r'\("(\w+)", "([\w-]+)"\)', BENCH)


def feeds(reference):
    out = {}
    for t in reference["inputs"]:
        per_row = int(np.prod(t["shape"][1:]))
        data = [np.nan if v is None else v for v in t["data"]]
        values = [data[i % len(data)] for i in range(ROWS * per_row)]
        dtype = {"INT64": np.int64, "BYTES": object}.get(t["datatype"], np.float32)
        out[t["name"]] = np.array(values, dtype=dtype).reshape([ROWS] + t["shape"][1:])
    return out


def main():
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # LightGBM exports declare a [1] label; ort warns per run
    for family, name in FAMILIES:
        folder = ROOT / "tests/zoo" / name
        sess = onnxruntime.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        x = feeds(json.loads((folder / "reference.json").read_text()))
        for _ in range(50):
            sess.run(None, x)
        runs, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            sess.run(None, x)
            runs += 1
        per_row = (time.perf_counter() - start) / runs / ROWS * 1e6
        print(f"{family} {per_row:.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
