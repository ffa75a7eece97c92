"""The admin API through tritonclient's own repository calls (load_model,
unload_model, get_model_repository_index), which speak KServe V2's repository
extension: a new version goes live on `load`, and the token is required."""

import shutil

import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def admin(admin_server):
    address, repository = admin_server
    client = httpclient.InferenceServerClient(address)
    yield client, repository
    client.close()


def infer_version(client, stock):
    tensor = httpclient.InferInput(stock.input_name, [2, 16], "FP32")
    tensor.set_data_from_numpy(stock.inputs[:2])
    result = client.infer("stock-forecaster", [tensor])
    stock.assert_close(result.as_numpy(stock.output_name), slice(0, 2), "after load")
    return result.get_response()["model_version"]


def test_repository_calls_need_the_token(admin):
    client, _ = admin
    for call in (client.get_model_repository_index,
                 lambda: client.load_model("stock-forecaster"),
                 lambda: client.unload_model("stock-forecaster")):
        with pytest.raises(InferenceServerException) as refused:
            call()
        assert refused.value.status() == "401", refused.value
    with pytest.raises(InferenceServerException) as wrong:
        client.get_model_repository_index(headers={"Authorization": "Bearer nope"})
    assert wrong.value.status() == "401"


def test_index_load_and_unload(admin, stock):
    client, repository = admin
    index = client.get_model_repository_index(headers=AUTH)
    assert {"name": "stock-forecaster", "version": "1", "state": "READY"} in index
    assert infer_version(client, stock) == "1"

    # A new version, put in atomically, goes live on load.
    staging = repository / "stock-forecaster" / ".2"
    staging.mkdir()
    shutil.copy(repository / "stock-forecaster" / "1" / "model.onnx", staging)
    staging.rename(repository / "stock-forecaster" / "2")
    client.load_model("stock-forecaster", headers=AUTH)
    assert infer_version(client, stock) == "2"
    assert client.is_model_ready("stock-forecaster", "2")
    # Version 1 stays loaded beside it: the bundled model.toml labels it `stable`.
    assert client.is_model_ready("stock-forecaster", "1")

    client.unload_model("stock-forecaster", headers=AUTH)
    assert not client.is_model_ready("stock-forecaster")
    index = client.get_model_repository_index(headers=AUTH)
    assert {"name": "stock-forecaster", "state": "UNAVAILABLE", "reason": "unloaded"} in index
    client.load_model("stock-forecaster", headers=AUTH)
    assert client.is_model_ready("stock-forecaster")

    # A load that fails says why; the version before keeps serving.
    broken = repository / "stock-forecaster" / ".3"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    broken.rename(repository / "stock-forecaster" / "3")
    with pytest.raises(InferenceServerException) as failed:
        client.load_model("stock-forecaster", headers=AUTH)
    assert failed.value.status() == "400"
    assert "version 3 failed to load" in failed.value.message()
    assert infer_version(client, stock) == "2"
