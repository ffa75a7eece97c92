"""The KServe Python SDK's REST client (kserve.InferenceRESTClient), V1 and V2."""

import asyncio

import httpx
import numpy as np
import pytest
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput


def call(protocol, method, *args, **kwargs):
    """Runs one client call on a fresh client (the SDK is async-only)."""

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol=protocol, retries=0, timeout=30))
        try:
            return await getattr(client, method)(*args, **kwargs)
        finally:
            await client.close()

    return asyncio.run(run())


def test_v1_liveness_readiness_and_predict(base_url, stock):
    assert call("v1", "is_server_live", base_url)
    assert call("v1", "is_model_ready", base_url, "stock-forecaster")
    rows = slice(0, 16)
    body = {"instances": stock.inputs[rows].tolist()}
    answer = call("v1", "infer", base_url, body, model_name="stock-forecaster")
    stock.assert_close(answer["predictions"], rows, "KServe V1 predict")


def test_v2_liveness_and_readiness(base_url):
    assert call("v2", "is_server_live", base_url)
    assert call("v2", "is_server_ready", base_url)
    assert call("v2", "is_model_ready", base_url, "dense-net")
    assert not call("v2", "is_model_ready", base_url, "no-such-model")


def _request(ref, rows, binary, **kwargs):
    data = ref.inputs[rows]
    tensor = InferInput(ref.input_name, list(data.shape), "FP32")
    tensor.set_data_from_numpy(data, binary_data=binary)
    return InferRequest(model_name=ref.model, infer_inputs=[tensor], **kwargs)


def test_v2_json(base_url, stock):
    rows = slice(0, 32)
    request = _request(stock, rows, binary=False, request_id="kserve-json")
    response = call("v2", "infer", base_url, request, model_name="stock-forecaster")
    assert response.id == "kserve-json"
    assert response.model_name == "stock-forecaster"
    out = response.outputs[0]
    assert out.name == stock.output_name and out.datatype == "FP32"
    stock.assert_close(out.as_numpy(), rows, "KServe V2 JSON")


def test_v2_binary_inputs_and_outputs(base_url, dense):
    rows = slice(0, 8)
    outputs = [RequestedOutput(dense.output_name, parameters={"binary_data": True})]
    request = _request(dense, rows, binary=True, request_outputs=outputs)
    headers = {}
    response = call("v2", "infer", base_url, request, model_name="dense-net",
                    response_headers=headers)
    assert int(headers["inference-header-content-length"]) > 0, "binary answer expected"
    dense.assert_close(response.outputs[0].as_numpy(), rows, "KServe V2 binary")


def test_v2_binary_data_output_request_parameter(base_url, stock):
    rows = slice(40, 48)
    request = _request(stock, rows, binary=False, parameters={"binary_data_output": True})
    headers = {}
    response = call("v2", "infer", base_url, request, model_name="stock-forecaster",
                    response_headers=headers)
    assert "inference-header-content-length" in headers
    stock.assert_close(response.outputs[0].as_numpy(), rows, "binary_data_output")


def test_v2_plain_dict_body(base_url, stock):
    rows = slice(5, 7)
    body = {
        "model_name": "stock-forecaster",
        "inputs": [{"name": stock.input_name, "shape": [2, 16], "datatype": "FP32",
                    "data": stock.inputs[rows].flatten().tolist()}],
    }
    response = call("v2", "infer", base_url, body, model_name="stock-forecaster")
    stock.assert_close(response.outputs[0].as_numpy(), rows, "KServe V2 dict")


def test_v2_error_is_raised_with_the_message(base_url, stock):
    data = stock.inputs[0:1]
    tensor = InferInput(stock.input_name, [1, 16], "FP64")
    tensor.set_data_from_numpy(data.astype(np.float64), binary_data=False)
    request = InferRequest(model_name="stock-forecaster", infer_inputs=[tensor])
    with pytest.raises(httpx.HTTPStatusError, match="datatype FP64 but the model expects FP32"):
        call("v2", "infer", base_url, request, model_name="stock-forecaster")
