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
status=0
for ref in tests/zoo/*/reference.json; do
  name=$(basename "$(dirname "$ref")")
  if ! cmp -s "$ref" "$scratch/$name/reference.json"; then
    echo "zoo: $name: regenerated reference differs from the committed one" >&2
    status=1
  fi
done
count=$(ls -d "$scratch"/*/ | wc -l)
committed=$(ls -d tests/zoo/*/ | wc -l)
[ "$count" = "$committed" ] || { echo "zoo: script makes $count models, $committed committed" >&2; status=1; }
[ $status = 0 ] && echo "zoo: $count models regenerate to the committed references"
exit $status
