"""What the batch clients (clients/spark/score.py, clients/ray/score.py) share: a
model's V2 metadata read into the output columns `inferd score` writes, a predict
function that sends one batch of feature rows to inferd over the V2 binary tensor
protocol with `tritonclient.http`, and their common command-line arguments
(README "Batch scoring")."""

import numpy as np

# Seconds a request may take before the batch fails (and Spark or Ray retries it).
TIMEOUT_S = 60.0


def add_arguments(p):
    """The arguments every batch client takes, on the argparse parser `p`."""
    p.add_argument("--url", required=True, help="inferd host:port (no scheme)")
    p.add_argument("--model", required=True)
    p.add_argument("--version", default="", help="model version; default the newest")
    p.add_argument("--input", required=True, help="Parquet file or folder")
    p.add_argument("--output", required=True, help="Parquet folder to write")
    p.add_argument("--features", required=True, help="comma-separated feature columns, in model order")
    p.add_argument("--batch-size", type=int, default=4096, help="rows per request")


def output_columns(url, model, version=""):
    """The model's input name, width and output columns, from its V2 metadata:
    each output's name with its column names, `<output>` when it has one column
    per row and `<output>_<i>` otherwise."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=url, network_timeout=TIMEOUT_S)
    try:
        meta = client.get_model_metadata(model, model_version=version)
    finally:
        client.close()
    if len(meta["inputs"]) != 1 or meta["inputs"][0]["datatype"] != "FP32":
        raise SystemExit(f"model {model} must take one FP32 input")
    inp = meta["inputs"][0]
    columns = []
    for out in meta["outputs"]:
        if out["datatype"] != "FP32":
            raise SystemExit(f"output {out['name']} is {out['datatype']}: this client reads FP32")
        width = int(np.prod(out["shape"][1:])) if len(out["shape"]) > 1 else 1
        names = [out["name"]] if width == 1 else [f"{out['name']}_{i}" for i in range(width)]
        columns.append((out["name"], names))
    return inp["name"], int(np.prod(inp["shape"][1:])), columns


def make_predict_fn(url, model, version, input_name, columns):
    """A factory of predict functions, called once per worker (Spark's Python
    worker, Ray's actor), so the client and its connection are reused for every
    batch the worker sends. The predict function takes a (rows, width) array and
    returns {column name: float32 array of rows}."""

    def make():
        import tritonclient.http as httpclient

        client = httpclient.InferenceServerClient(url=url, network_timeout=TIMEOUT_S)
        requested = [httpclient.InferRequestedOutput(name, binary_data=True) for name, _ in columns]

        def predict(features):
            x = np.ascontiguousarray(features, dtype=np.float32)
            tensor = httpclient.InferInput(input_name, list(x.shape), "FP32")
            tensor.set_data_from_numpy(x, binary_data=True)
            result = client.infer(model, [tensor], model_version=version, outputs=requested)
            answer = {}
            for name, names in columns:
                values = result.as_numpy(name).reshape(len(x), len(names))
                for i, column in enumerate(names):
                    answer[column] = values[:, i]
            return answer

        return predict

    return make
