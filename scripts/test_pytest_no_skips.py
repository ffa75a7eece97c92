"""scripts/pytest_no_skips.py: under CI a skipped test fails the run; outside it,
the same run passes."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent


def run(tmp_path, ci):
    test = tmp_path / "test_one.py"
    test.write_text("import pytest\n\ndef test_skips():\n    pytest.skip('tool missing')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(SCRIPTS)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "pytest_no_skips", "-p", "no:cacheprovider", str(test)],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )


def test_a_skip_fails_under_ci(tmp_path):
    for ci in ["true", "1", "YES"]:
        done = run(tmp_path, ci)
        assert done.returncode == 1, (ci, done.stdout)
        assert "test_skips" in done.stdout


def test_a_skip_stays_a_skip_outside_ci(tmp_path):
    for ci in [None, "", "0", "false"]:
        done = run(tmp_path, ci)
        assert done.returncode == 0, (ci, done.stdout)
