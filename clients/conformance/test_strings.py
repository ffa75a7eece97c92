"""String (BYTES) tensors through every client: a scikit-learn pipeline with a
float input, a string input and string class labels (the zoo's
column-transformer-strings), served by its own inferd and checked against the
onnxruntime outputs committed beside it (tests/zoo/)."""

import asyncio
import json
import shutil

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

from conftest import REL_TOL, ROOT, _start, _stop

ZOO = ROOT / "tests" / "zoo" / "column-transformer-strings"
MODEL = "strings"
# The zoo's stated floor for this model (reference.json's abs_tol).
REFERENCE = json.loads((ZOO / "reference.json").read_text())
ABS_FLOOR = REFERENCE["abs_tol"]
TIMEOUT = 30


def _tensor(name, part):
    for t in REFERENCE[part]:
        if t["name"] == name:
            dtype = object if t["datatype"] == "BYTES" else np.float32
            return np.array(t["data"], dtype=dtype).reshape(t["shape"])
    raise KeyError(name)


NUM, CAT = _tensor("num", "inputs"), _tensor("cat", "inputs")
LABELS, PROBS = _tensor("label", "outputs"), _tensor("probabilities", "outputs")


def assert_answer(labels, probabilities, rows, what):
    labels = [v.decode() if isinstance(v, bytes) else v for v in np.asarray(labels).ravel()]
    assert labels == list(LABELS[rows]), f"{what}: labels {labels}"
    got = np.asarray(probabilities, dtype=np.float64).reshape(PROBS[rows].shape)
    err = np.abs(got - PROBS[rows])
    assert np.all(err <= np.maximum(ABS_FLOOR, REL_TOL * np.abs(PROBS[rows]))), f"{what}: {err.max()}"


@pytest.fixture(scope="module")
def strings_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("inferd-strings")
    (work / "models" / MODEL / "1").mkdir(parents=True)
    shutil.copy(ZOO / "model.onnx", work / "models" / MODEL / "1" / "model.onnx")
    proc, address = _start(work / "inferd.log", work / "models", {"INFERD_DEFAULT_MODEL": MODEL})
    yield address
    _stop(proc)


@pytest.mark.parametrize("binary", [True, False])
def test_triton_client_sends_and_reads_bytes(strings_server, binary):
    client = httpclient.InferenceServerClient(url=strings_server)
    meta = client.get_model_metadata(MODEL)
    assert meta["inputs"][1] == {"name": "cat", "datatype": "BYTES", "shape": [-1, 2]}
    assert meta["outputs"][0]["datatype"] == "BYTES"
    rows = slice(0, 24)
    num = httpclient.InferInput("num", list(NUM[rows].shape), "FP32")
    num.set_data_from_numpy(NUM[rows], binary_data=binary)
    cat = httpclient.InferInput("cat", list(CAT[rows].shape), "BYTES")
    cat.set_data_from_numpy(CAT[rows], binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer(MODEL, [num, cat], outputs=outputs)
    assert_answer(result.as_numpy("label"), result.as_numpy("probabilities"), rows,
                  f"tritonclient binary={binary}")
    client.close()


def test_kserve_client_v2_json(strings_server):
    rows = slice(3, 9)
    num = InferInput("num", list(NUM[rows].shape), "FP32")
    num.set_data_from_numpy(NUM[rows], binary_data=False)
    cat = InferInput("cat", list(CAT[rows].shape), "BYTES")
    cat.set_data_from_numpy(CAT[rows], binary_data=False)

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
        try:
            request = InferRequest(model_name=MODEL, infer_inputs=[num, cat])
            return await client.infer(f"http://{strings_server}", request, model_name=MODEL)
        finally:
            await client.close()

    response = asyncio.run(run())
    out = {o.name: o for o in response.outputs}
    assert out["label"].datatype == "BYTES"
    assert_answer(out["label"].data, out["probabilities"].data, rows, "KServe V2 JSON")


def test_tfserving_rows_and_columns(strings_server):
    url = f"http://{strings_server}/v1/models/{MODEL}:predict"
    rows = slice(0, 5)
    instances = [{"num": n.tolist(), "cat": list(c)} for n, c in zip(NUM[rows], CAT[rows])]
    r = requests.post(url, json={"instances": instances}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert_answer([p["label"] for p in predictions], [p["probabilities"] for p in predictions],
                  rows, "TF Serving rows")
    columns = {"num": NUM[rows].tolist(), "cat": CAT[rows].tolist()}
    r = requests.post(url, json={"inputs": columns}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    outputs = r.json()["outputs"]
    assert_answer(outputs["label"], outputs["probabilities"], rows, "TF Serving columns")


def test_bad_strings_are_a_400_naming_the_input(strings_server):
    url = f"http://{strings_server}/v2/models/{MODEL}/infer"
    body = {"inputs": [
        {"name": "num", "datatype": "FP32", "shape": [1, 3], "data": [0.0, 1.0, 2.0]},
        {"name": "cat", "datatype": "BYTES", "shape": [1, 2], "data": ["red", 7]},
    ]}
    r = requests.post(url, json=body, timeout=TIMEOUT)
    assert r.status_code == 400
    assert "input `cat`: element 1 (7) is not a string, expected BYTES" in r.json()["error"]
    tf = f"http://{strings_server}/v1/models/{MODEL}:predict"
    r = requests.post(tf, json={"instances": [{"num": [0.0, 1.0, 2.0], "cat": [{"b64": "cmVk"}, "x"]}]},
                      timeout=TIMEOUT)
    assert r.status_code == 400 and "b64" in r.json()["error"], r.text
