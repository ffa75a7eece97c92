"""Starts one inferd for the whole session and loads the onnxruntime references.

The server is the binary named by INFERD_BIN (default: target/debug/inferd, built by
`cargo test`), run from the repository root with `--model-repository models`, on
127.0.0.1 with a port the kernel picks (read back from its "listening" log line).
"""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120

# The README's tolerance against onnxruntime: relative 1e-5 with an absolute floor,
# 1e-6 for the forecaster and 1e-5 for dense-net (its 2048-long float32 dot products
# are summed in another order than onnxruntime's).
REL_TOL = 1e-5
ABS_FLOOR = {"stock-forecaster": 1e-6, "dense-net": 1e-5}


class Reference:
    """One model's committed onnxruntime inputs and outputs (models/<m>/1/reference.json)."""

    def __init__(self, model):
        data = json.loads((ROOT / "models" / model / "1" / "reference.json").read_text())
        self.model = model
        self.input_name = data["input_name"]
        self.output_name = data["output_name"]
        self.inputs = np.asarray(data["inputs"], dtype=np.float32)
        self.outputs = np.asarray(data["outputs"], dtype=np.float32)

    def assert_close(self, got, rows, what):
        """Asserts `got` equals onnxruntime's outputs for `rows` within the README's tolerance."""
        want = self.outputs[rows]
        got = np.asarray(got, dtype=np.float64).reshape(want.shape)
        err = np.abs(got - want)
        bound = np.maximum(ABS_FLOOR[self.model], REL_TOL * np.abs(want))
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), (
            f"{what}: at {worst} got {got[worst]}, onnxruntime says {want[worst]} "
            f"(error {err[worst]:.3e} > {bound[worst]:.3e})"
        )

    def top_k(self, row, k):
        """onnxruntime's k largest (value, index) of one output row, largest first."""
        values = self.outputs[row]
        order = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
        return [(float(values[i]), i) for i in order]

    def assert_labels(self, labels, row, k, what):
        """Checks Triton classification strings "value:index" against onnxruntime."""
        want = self.top_k(row, k)
        assert len(labels) == len(want), f"{what}: {labels}"
        for label, (value, index) in zip(labels, want):
            text = label.decode() if isinstance(label, bytes) else label
            got_value, got_index = text.split(":")[:2]
            assert int(got_index) == index, f"{what}: {text} (want index {index})"
            # Printed with six decimals, so allow their rounding on top of the tolerance.
            bound = max(ABS_FLOOR[self.model], REL_TOL * abs(value)) + 5e-7
            assert abs(float(got_value) - value) <= bound, f"{what}: {text} vs {value}"


@pytest.fixture(scope="session")
def stock():
    return Reference("stock-forecaster")


@pytest.fixture(scope="session")
def dense():
    return Reference("dense-net")


def _binary():
    path = Path(os.environ.get("INFERD_BIN", ROOT / "target" / "debug" / "inferd"))
    if not path.is_absolute():
        path = ROOT / path
    if not path.exists():
        pytest.exit(f"no inferd binary at {path}: run `cargo test` (or set INFERD_BIN)", 2)
    return path


def _start(log_path, repository, extra_env=None):
    """Starts inferd on 127.0.0.1:0 serving `repository`; returns (process, address)."""
    # inferd reads every INFERD_* variable as configuration and refuses unknown keys,
    # so the variable naming the binary is not passed on.
    env = {k: v for k, v in os.environ.items() if k != "INFERD_BIN"}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [str(_binary()), "--listen", "127.0.0.1:0", "--model-repository", str(repository),
         "--log-format", "json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found = threading.Event()
    address = []

    def read_logs():
        # Drains the pipe for the whole run, so the server never blocks on logging.
        with open(log_path, "w") as log:
            for line in proc.stdout:
                log.write(line)
                if not found.is_set():
                    try:
                        fields = json.loads(line).get("fields", {})
                    except ValueError:
                        continue
                    if fields.get("message") == "listening":
                        address.append(fields["address"])
                        found.set()

    threading.Thread(target=read_logs, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not found.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.exit(f"inferd did not start; its log: {log_path.read_text()[-4000:]}", 2)
    return proc, address[0]


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The address ("127.0.0.1:PORT") of a live inferd, stopped after the session."""
    proc, address = _start(tmp_path_factory.mktemp("inferd") / "inferd.log", "models")
    yield address
    _stop(proc)


ADMIN_TOKEN = "conformance-admin-token"


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    """(address, repository) of an inferd with the admin API on (ADMIN_TOKEN),
    serving its own copy of models/ that the tests may change."""
    work = tmp_path_factory.mktemp("inferd-admin")
    repository = work / "models"
    shutil.copytree(ROOT / "models", repository)
    proc, address = _start(work / "inferd.log", repository, {"INFERD_ADMIN__TOKEN": ADMIN_TOKEN})
    yield address, repository
    _stop(proc)


@pytest.fixture(scope="session")
def base_url(server):
    return f"http://{server}"
