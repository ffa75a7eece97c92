#!/usr/bin/env bash
# Client conformance: the real KServe SDK, Triton's HTTP client and TF Serving-style
# `requests` calls (pinned in clients/conformance/requirements.txt), then PyTriton's
# ModelClient (clients/pytriton/, its own virtualenv: it needs numpy < 2), against
# a live inferd, every answer compared with the bundled models' onnxruntime
# references.
#
# Uses target/debug/inferd (built by `cargo test`) unless INFERD_BIN names another
# binary. Each suite's clients live in a virtualenv under target/, reinstalled only
# when its requirements change. Arguments go to pytest (e.g. `-k triton`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
started=$(date +%s)

if [ ! -x "${INFERD_BIN:-target/debug/inferd}" ]; then
    echo "client-conformance: no inferd binary; building target/debug/inferd"
    cargo build --bin inferd
fi

# install SUITE VENV: the suite's pinned requirements into VENV, if they changed.
install() {
    venv=$2 requirements="$1/requirements.txt" PYTHON=$python
    . scripts/client-venv.sh
}

# run SUITE VENV [PYTEST ARGS]: fails on a failing test, and on a run that collects
# no test unless arguments (such as -k) chose the tests.
run() {
    local suite=$1 venv=$2 status=0
    shift 2
    # Under CI a skipped test fails the run (scripts/pytest_no_skips.py).
    PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" \
        "$venv/bin/python" -m pytest "$suite" -p no:cacheprovider -p pytest_no_skips -q -rA "$@" \
        || status=$?
    if [ "$status" -eq 5 ]; then
        [ $# -gt 0 ] && return 0
        echo "client-conformance: pytest collected no tests in $suite" >&2
        status=1
    fi
    return "$status"
}

install clients/conformance "${CONFORMANCE_VENV:-target/conformance-venv}"
install clients/pytriton "${PYTRITON_VENV:-target/pytriton-venv}"
echo "==> client conformance (clients ready after $(( $(date +%s) - started )) s)"
run clients/conformance "${CONFORMANCE_VENV:-target/conformance-venv}" "$@"
run clients/pytriton "${PYTRITON_VENV:-target/pytriton-venv}" "$@"
