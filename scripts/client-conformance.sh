#!/usr/bin/env bash
# Client conformance: the real KServe SDK, Triton's HTTP client and TF Serving-style
# `requests` calls (pinned in clients/conformance/requirements.txt) against a live
# inferd, every answer compared with the bundled models' onnxruntime references.
#
# Uses target/debug/inferd (built by `cargo test`) unless INFERD_BIN names another
# binary. The clients live in a virtualenv under target/ (CONFORMANCE_VENV to move
# it), reinstalled only when the requirements change. Arguments go to pytest
# (e.g. `-k triton`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

suite=clients/conformance
venv=${CONFORMANCE_VENV:-target/conformance-venv}
python=${PYTHON:-python3}
started=$(date +%s)

if [ ! -x "${INFERD_BIN:-target/debug/inferd}" ]; then
    echo "client-conformance: no inferd binary; building target/debug/inferd"
    cargo build --bin inferd
fi

stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$suite/requirements.txt" "$stamp"; then
    echo "==> installing the pinned clients into $venv"
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q -r "$suite/requirements.txt"
    cp "$suite/requirements.txt" "$stamp"
fi

echo "==> client conformance (pytest $suite; clients ready after $(( $(date +%s) - started )) s)"
status=0
"$venv/bin/python" -m pytest "$suite" -p no:cacheprovider -q -rA "$@" || status=$?
# pytest's 5 means no test ran: that must fail CI, never pass it.
if [ "$status" -eq 5 ]; then
    echo "client-conformance: pytest collected no tests" >&2
    status=1
fi
# Nothing printed after pytest's own summary on success: CI reads its closing line.
exit "$status"
