# Sourced by scripts/batch-ci.sh, scripts/client-conformance.sh and
# scripts/score-bench.sh: makes sure the virtualenv "$venv" holds the pins of
# "$requirements" (a clients/*/requirements.txt), reinstalling only when the pins
# change. "$PYTHON" (default python3) makes the virtualenv.
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    echo "==> installing the pinned packages of $requirements into $venv"
    if ! "${PYTHON:-python3}" -m venv "$venv" 2>/dev/null; then
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q -r "$requirements"
    cp "$requirements" "$stamp"
fi
