"""PyTriton's ModelClient, which reads the model configuration (GET
/v2/models/{m}/config) to learn batching and tensor shapes before it infers."""

import numpy as np
from pytriton.client import ModelClient


def test_model_client_reads_the_config_and_infers(server, stock, dense):
    url = f"http://{server}"
    with ModelClient(url, "stock-forecaster", init_timeout_s=30, inference_timeout_s=30) as client:
        config = client.model_config
        # max_batch_size = "auto": timed at load, one of the sizes tried.
        assert config.max_batch_size in [2**k for k in range(10)] and config.batching
        assert [(t.name, t.shape, t.dtype) for t in config.inputs] == [("input", (16,), np.float32)]
        assert [(t.name, t.shape) for t in config.outputs] == [("forecast", (1,))]
        batch = client.infer_batch(input=stock.inputs[:8])
        stock.assert_close(batch[stock.output_name], slice(0, 8), "infer_batch")
        sample = client.infer_sample(input=stock.inputs[3])
        stock.assert_close(sample[stock.output_name], slice(3, 4), "infer_sample")
    with ModelClient(url, "dense-net", init_timeout_s=30, inference_timeout_s=30) as client:
        batch = client.infer_batch(**{dense.input_name: dense.inputs[:4]})
        dense.assert_close(batch[dense.output_name], slice(0, 4), "dense-net infer_batch")
