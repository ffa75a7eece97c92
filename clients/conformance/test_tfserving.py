"""TensorFlow Serving's REST API, called with `requests` exactly as its documentation
shows: row format (`instances`), columnar format (`inputs`), `signature_name`,
versioned URLs, model status, and `{"error": ...}` answers."""

import pytest
import requests

TIMEOUT = 30


@pytest.fixture(scope="module")
def predict_url(base_url):
    return f"{base_url}/v1/models/stock-forecaster:predict"


def test_model_status(base_url):
    r = requests.get(f"{base_url}/v1/models/stock-forecaster", timeout=TIMEOUT)
    assert r.status_code == 200
    status = r.json()["model_version_status"]
    assert status == [{"version": "1", "state": "AVAILABLE",
                       "status": {"error_code": "OK", "error_message": ""}}]


def test_row_format(predict_url, stock):
    rows = slice(0, 20)
    r = requests.post(predict_url, json={"instances": stock.inputs[rows].tolist()},
                      timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    stock.assert_close(r.json()["predictions"], rows, "row format")


def test_row_format_with_named_inputs_and_signature(predict_url, stock):
    rows = slice(20, 24)
    body = {
        "signature_name": "serving_default",
        "instances": [{stock.input_name: row} for row in stock.inputs[rows].tolist()],
    }
    r = requests.post(predict_url, json=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    stock.assert_close(r.json()["predictions"], rows, "named row format")


def test_columnar_format(predict_url, stock):
    rows = slice(24, 40)
    for inputs in ({stock.input_name: stock.inputs[rows].tolist()}, stock.inputs[rows].tolist()):
        body = {"signature_name": "serving_default", "inputs": inputs}
        r = requests.post(predict_url, json=body, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        stock.assert_close(r.json()["outputs"], rows, "columnar format")


def test_versioned_url_and_dense_model(base_url, dense):
    rows = slice(0, 8)
    url = f"{base_url}/v1/models/dense-net/versions/1:predict"
    r = requests.post(url, json={"instances": dense.inputs[rows].tolist()}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    dense.assert_close(r.json()["predictions"], rows, "versioned dense-net")


def test_unknown_signature_is_refused_with_the_list(predict_url, stock):
    body = {"signature_name": "predict_images", "instances": stock.inputs[:1].tolist()}
    r = requests.post(predict_url, json=body, timeout=TIMEOUT)
    assert r.status_code == 400
    assert "serving_default" in r.json()["error"]
    assert "predict_images" in r.json()["error"]


def test_errors_are_json_with_an_error_field(predict_url, stock):
    r = requests.post(predict_url, json={"instances": stock.inputs[:1, :3].tolist()},
                      timeout=TIMEOUT)
    assert r.status_code == 400
    assert list(r.json()) == ["error"]
    assert "shape" in r.json()["error"]


def test_model_metadata(base_url):
    r = requests.get(f"{base_url}/v1/models/dense-net/metadata", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_spec"]["name"] == "dense-net"
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    logits = signature["outputs"]["logits"]
    assert logits["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in logits["tensor_shape"]["dim"]] == ["-1", "10"]
