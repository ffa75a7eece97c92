# Sourced by scripts/spark-ci.sh and scripts/score-bench.sh: makes sure the
# virtualenv "$venv" holds clients/spark/requirements.txt's pins (pyspark, pyarrow,
# pandas, tritonclient, onnxruntime), reinstalling only when the pins change.
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s clients/spark/requirements.txt "$stamp"; then
    echo "==> installing the pinned Spark client into $venv"
    if ! "${PYTHON:-python3}" -m venv "$venv" 2>/dev/null; then
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q -r clients/spark/requirements.txt
    cp clients/spark/requirements.txt "$stamp"
fi
