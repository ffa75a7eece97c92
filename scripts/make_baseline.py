#!/usr/bin/env python3
"""Make models/stock-forecaster/1/baseline.json from the forecaster's training data.

The rows are exactly those scripts/make_fixtures.py fits the model on
(`lagged(simulate_returns(seed=0, n=20_000))`, float32), written to a temporary
CSV whose header is the `feature_names` of models/stock-forecaster/model.toml,
and handed to `inferd baseline`. Everything is seeded, so re-running it gives
the committed file byte for byte.

    python3 scripts/make_baseline.py                 # builds and runs inferd with cargo
    python3 scripts/make_baseline.py --inferd target/release/inferd

Needs the packages scripts/make_fixtures.py names (it imports that file).
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import tomllib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_fixtures import ROOT, lagged, simulate_returns  # noqa: E402

MODEL = "stock-forecaster"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inferd", help="inferd binary (default: cargo run --release --)")
    args = parser.parse_args()
    names = tomllib.loads((ROOT / "models" / MODEL / "model.toml").read_text())["feature_names"]
    x, _ = lagged(simulate_returns(seed=0, n=20_000))
    assert x.shape[1] == len(names), (x.shape, names)
    inferd = [args.inferd] if args.inferd else ["cargo", "run", "--release", "--quiet", "--"]
    with tempfile.TemporaryDirectory() as tmp:
        data = pathlib.Path(tmp) / "train.csv"
        with data.open("w") as f:
            f.write(",".join(names) + "\n")
            # repr of the float32 value as a float64 is exact, so Rust parses the
            # very numbers the model was trained on.
            for row in x:
                f.write(",".join(repr(float(np.float32(v))) for v in row) + "\n")
        cmd = inferd + ["baseline", "--model-repository", str(ROOT / "models"),
                        "--model", MODEL, "--version", "1", "--data", str(data)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
