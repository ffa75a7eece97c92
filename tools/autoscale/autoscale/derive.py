"""The manifests' numbers, derived from tools/autoscale/measured.json and the
typical trading-day curve (curves/trading-day.json):

- in-flight target per pod: the measured mean in-flight at TARGET_UTILISATION x capacity;
- CPU target: the measured CPU at that same load, as a share of the 1-core request;
- each cron window's desiredReplicas: the capacity model, ceil(peak in the window /
  (capacity x TARGET_UTILISATION)), for the window in deploy/keda/scaledobject.yaml.

    PYTHONPATH=tools/autoscale python3 -m autoscale.derive   # prints them
A test checks the committed manifests carry exactly these numbers.
"""

import json
from pathlib import Path

import yaml

from .model import TARGET_UTILISATION, Curve, Replica
from .schedule import windows

HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]


def derive(measured: Path, curve_path: Path, scaled_object: Path) -> dict:
    replica = Replica.from_measured(measured, 0)
    curve = Curve.load(curve_path)
    load = TARGET_UTILISATION * replica.capacity_rps
    so = yaml.safe_load(scaled_object.read_text())
    crons = {t["name"]: t for t in so["spec"]["triggers"] if t["type"] == "cron"}
    replicas = {}
    for name, trigger in crons.items():
        (window,) = windows({"spec": {"triggers": [trigger]}}, curve.timezone)
        replicas[name] = replica.needed(curve.peak_between(window.start_min, window.end_min))
    return {
        "capacity_rps": replica.capacity_rps,
        "target_inflight": round(replica.inflight(load), 2),
        "target_cpu_percent": round(100 * replica.cpu_utilisation(load)),
        "cron_replicas": replicas,
    }


def main() -> None:
    print(json.dumps(derive(HERE / "measured.json", HERE / "curves/trading-day.json",
                            REPO / "deploy/keda/scaledobject.yaml"), indent=1))


if __name__ == "__main__":
    main()
