#!/usr/bin/env bash
# Regenerates the model zoo (scripts/make_zoo.py) in a scratch folder and checks
# that onnxruntime's reference outputs equal the committed ones in tests/zoo/, so
# the zoo stays reproducible from its script. Installs its Python packages
# (pinned) when missing. About 1-2 minutes on a fresh machine, ~20 s after.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="numpy==2.4.6 scikit-learn==1.9.1 skl2onnx==1.20.0 onnx==1.23.2 onnxruntime==1.32.0 xgboost==3.2.0 lightgbm==4.7.0 onnxmltools==1.16.0"
if ! python3 -c "import sklearn, skl2onnx, onnxruntime, xgboost, lightgbm, onnxmltools" 2>/dev/null; then
  python3 -m pip install --quiet $PKGS
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
ZOO_DIR="$scratch" python3 scripts/make_zoo.py > /dev/null
# Same models, inputs and labels; floats equal to 1e-6 of the output's largest
# magnitude: make_zoo.py pins OpenBLAS so training is the same on any x86-64
# CPU, but onnxruntime still picks its kernels by CPU and may round the last
# bit differently, which a relative bound on a probability near zero would
# count as a different model.
status=0
python3 - "$scratch" <<'PY' || status=1
import json, math, pathlib, sys
fresh, bad = pathlib.Path(sys.argv[1]), 0
for ref in sorted(pathlib.Path("tests/zoo").glob("*/reference.json")):
    new = fresh / ref.parent.name / "reference.json"
    if not new.is_file():
        print(f"zoo: {ref.parent.name}: no longer made by the script", file=sys.stderr); bad += 1; continue
    a, b = json.loads(ref.read_text()), json.loads(new.read_text())
    def close(x, y, scale):
        if isinstance(x, float) and isinstance(y, float):
            return x == y or abs(x - y) <= 1e-6 * scale
        return x == y
    same = {k: a[k] for k in a if k != "outputs"} == {k: b[k] for k in b if k != "outputs"}
    for oa, ob in zip(a["outputs"], b["outputs"]):
        scale = max((abs(x) for x in oa["data"] if isinstance(x, float)), default=0.0)
        same = same and oa["shape"] == ob["shape"] and all(close(x, y, scale) for x, y in zip(oa["data"], ob["data"]))
    if not same or len(a["outputs"]) != len(b["outputs"]):
        print(f"zoo: {ref.parent.name}: regenerated reference differs from the committed one", file=sys.stderr); bad += 1
sys.exit(1 if bad else 0)
PY
count=$(ls -d "$scratch"/*/ | wc -l)
committed=$(ls -d tests/zoo/*/ | wc -l)
[ "$count" = "$committed" ] || { echo "zoo: script makes $count models, $committed committed" >&2; status=1; }
[ $status = 0 ] && echo "zoo: $count models regenerate to the committed references"
exit $status
