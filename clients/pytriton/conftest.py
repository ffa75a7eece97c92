"""The conformance suite's fixtures (one live inferd, the onnxruntime references),
shared by loading clients/conformance/conftest.py under another module name."""

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "conformance" / "conftest.py"
_spec = importlib.util.spec_from_file_location("conformance_conftest", _path)
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)

server = _shared.server
stock = _shared.stock
dense = _shared.dense
