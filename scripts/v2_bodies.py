"""Request bodies for the load scripts (scripts/loadbench.sh, scripts/peers.sh): a
model's own reference rows (models/<m>/1/reference.json), repeated to the number
of rows wanted, as V2 JSON and as V2 binary bodies of FP32 input "input"."""

import json
import struct


def reference_rows(model, n):
    """The first n rows, the reference's rows repeated as needed."""
    ref = json.load(open(f"models/{model}/1/reference.json"))["inputs"]
    return [ref[i % len(ref)] for i in range(n)]


def write_v2(stem, rows):
    """Writes STEM.json (V2 JSON), STEM.bin (V2 binary) and STEM.bin.len (the
    binary body's JSON header length, for Inference-Header-Content-Length)."""
    flat = [v for row in rows for v in row]
    shape = [len(rows), len(rows[0])]
    body = {"inputs": [{"name": "input", "shape": shape, "datatype": "FP32", "data": flat}]}
    open(f"{stem}.json", "w").write(json.dumps(body, separators=(",", ":")))
    data = struct.pack(f"<{len(flat)}f", *flat)
    header = json.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(data)}}]},
                        separators=(",", ":")).encode()
    open(f"{stem}.bin", "wb").write(header + data)
    open(f"{stem}.bin.len", "w").write(str(len(header)))
