"""Triton's own HTTP client (tritonclient.http), used as its documentation shows."""

import asyncio

import numpy as np
import pytest
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient
from tritonclient.utils import InferenceServerException


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(url=server)
    yield c
    c.close()


def test_health_and_readiness(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("stock-forecaster")
    assert client.is_model_ready("dense-net", model_version="1")
    assert not client.is_model_ready("no-such-model")


def test_server_and_model_metadata(client):
    server = client.get_server_metadata()
    assert server["name"] == "inferd"
    assert "binary_tensor_data" in server["extensions"]
    meta = client.get_model_metadata("dense-net")
    assert meta["name"] == "dense-net"
    assert meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 512]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
    versioned = client.get_model_metadata("stock-forecaster", model_version="1")
    assert versioned["inputs"][0]["shape"] == [-1, 16]


def _input(ref, rows, binary):
    data = ref.inputs[rows]
    tensor = httpclient.InferInput(ref.input_name, list(data.shape), "FP32")
    tensor.set_data_from_numpy(data, binary_data=binary)
    return tensor


def test_infer_json_in_json_out(client, stock):
    rows = slice(0, 32)
    out = httpclient.InferRequestedOutput(stock.output_name, binary_data=False)
    # Triton's priority, timeout and custom parameters are accepted and ignored.
    result = client.infer("stock-forecaster", [_input(stock, rows, False)],
                          outputs=[out], request_id="json-1", priority=1,
                          timeout=10_000_000, parameters={"tenant": "conformance"})
    response = result.get_response()
    assert response["id"] == "json-1"
    assert "data" in response["outputs"][0], "asked for JSON output"
    stock.assert_close(result.as_numpy(stock.output_name), rows, "tritonclient JSON")


def test_infer_binary_by_default(client, dense):
    # The client's defaults: binary input, no outputs listed => binary_data_output.
    rows = slice(0, 8)
    result = client.infer("dense-net", [_input(dense, rows, True)])
    output = result.get_output(dense.output_name)
    assert output["parameters"]["binary_data_size"] == 8 * 10 * 4
    assert result.as_numpy(dense.output_name).shape == (8, 10)
    dense.assert_close(result.as_numpy(dense.output_name), rows, "tritonclient binary")


def test_requested_outputs_binary_and_json(client, stock):
    rows = slice(10, 20)
    for binary in (True, False):
        out = httpclient.InferRequestedOutput(stock.output_name, binary_data=binary)
        result = client.infer("stock-forecaster", [_input(stock, rows, not binary)],
                              outputs=[out], model_version="1")
        has_size = "binary_data_size" in (result.get_output(stock.output_name).get("parameters") or {})
        assert has_size == binary
        stock.assert_close(result.as_numpy(stock.output_name), rows, f"binary_data={binary}")


def test_unknown_output_is_an_error_naming_it(client, stock):
    out = httpclient.InferRequestedOutput("probabilities")
    with pytest.raises(InferenceServerException, match="unknown output `probabilities`"):
        client.infer("stock-forecaster", [_input(stock, slice(0, 1), True)], outputs=[out])


def test_wrong_shape_is_an_error_naming_it(client, stock):
    data = stock.inputs[0:2, :15]
    tensor = httpclient.InferInput(stock.input_name, list(data.shape), "FP32")
    tensor.set_data_from_numpy(data)
    with pytest.raises(InferenceServerException, match=r"shape \[2, 15\]"):
        client.infer("stock-forecaster", [tensor])


@pytest.mark.parametrize("binary", [True, False])
def test_classification_top_k(client, dense, binary):
    rows = slice(0, 4)
    out = httpclient.InferRequestedOutput(dense.output_name, binary_data=binary, class_count=3)
    result = client.infer("dense-net", [_input(dense, rows, True)], outputs=[out])
    assert result.get_output(dense.output_name)["datatype"] == "BYTES"
    labels = result.as_numpy(dense.output_name)
    assert labels.shape == (4, 3)
    for i in range(4):
        dense.assert_labels(list(labels[i]), i, 3, f"row {i}")


def test_aio_client_infers_binary(server, stock):
    async def run():
        async with aioclient.InferenceServerClient(url=server) as c:
            assert await c.is_server_ready()
            data = stock.inputs[0:4]
            tensor = aioclient.InferInput(stock.input_name, list(data.shape), "FP32")
            tensor.set_data_from_numpy(data)
            result = await c.infer("stock-forecaster", [tensor])
            return result.as_numpy(stock.output_name)

    stock.assert_close(asyncio.run(run()), slice(0, 4), "tritonclient.http.aio")


def test_model_config(client):
    config = client.get_model_config("stock-forecaster")
    # max_batch_size = "auto" (the default): timed at load, one of the sizes tried.
    assert config["max_batch_size"] in [2**k for k in range(10)], config
    # The forecaster's weights fit any L2: tract's walk sets it no run limit.
    assert config["parameters"]["max_batch_size_engine_limit"] == {"string_value": ""}
    assert config["parameters"]["max_batch_size_source"] == {"string_value": "auto"}
    assert config["parameters"]["max_batch_size_curve"]["string_value"].startswith("1:")
    assert config["input"] == [{"name": "input", "data_type": "TYPE_FP32", "dims": [16]}]
    assert config["output"] == [{"name": "forecast", "data_type": "TYPE_FP32", "dims": [1]}]
