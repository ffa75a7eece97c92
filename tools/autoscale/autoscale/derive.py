"""The manifests' numbers, derived from tools/autoscale/measured.json and the
typical trading-day curve (curves/trading-day.json):

- in-flight target per pod: the measured mean in-flight at TARGET_UTILISATION x capacity;
- CPU target: above the measured CPU plateau by the scale-down step, so that CPU
  never holds back a scale-down the in-flight metric asks for: with batching, CPU
  stays near 90% from a fifth of capacity up, and a target at the plateau kept
  the HPA from ever scaling down (the simulator measured +68% replica-hours);
  max measured CPU / (1 - scale-down percent), rounded up to 10, of the request;
- the memory request and limit: resident memory under load + the cache's bound
  (config/inferd.toml) + a model load's transient (peak minus idle resident),
  with a quarter for headroom, rounded up to 64 MiB;
- each cron window's desiredReplicas: the capacity model, ceil(peak in the window /
  (capacity x TARGET_UTILISATION)), for the windows of deploy/keda and
  deploy/keda-scheduled.

    PYTHONPATH=tools/autoscale python3 -m autoscale.derive   # prints them
A test checks the committed manifests carry exactly these numbers.
"""

import json
import math
import tomllib
from pathlib import Path

import yaml

from .model import TARGET_UTILISATION, Curve, Replica
from .schedule import windows

HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]


def derive(measured: Path, curve_path: Path, scaled_objects: list[Path]) -> dict:
    replica = Replica.from_measured(measured, 0)
    curve = Curve.load(curve_path)
    load = TARGET_UTILISATION * replica.capacity_rps
    crons = {}
    for path in scaled_objects:
        so = yaml.safe_load(path.read_text())
        crons.update({t["name"]: t for t in so["spec"]["triggers"] if t["type"] == "cron"})
    replicas = {}
    for name, trigger in crons.items():
        (window,) = windows({"spec": {"triggers": [trigger]}}, curve.timezone)
        replicas[name] = replica.needed(curve.peak_between(window.start_min, window.end_min))
    return {
        "capacity_rps": replica.capacity_rps,
        "target_inflight": round(replica.inflight(load), 2),
        "target_cpu_percent": cpu_target(json.loads(measured.read_text())),
        "cron_replicas": replicas,
        "memory_mib": memory_mib(json.loads(measured.read_text())),
    }


def cpu_target(m: dict) -> int:
    hpa = yaml.safe_load((REPO / "deploy/hpa/hpa.yaml").read_text())["spec"]
    (step,) = [p["value"] for p in hpa["behavior"]["scaleDown"]["policies"] if p["type"] == "Percent"]
    plateau = max(s["cpu_cores"] for s in m["steps"])
    return 10 * math.ceil(100 * plateau / (1 - step / 100) / 10)


def memory_mib(m: dict) -> int:
    config = tomllib.loads((REPO / "config/inferd.toml").read_text())
    cache = parse_size(config["cache"]["max_bytes"])
    under_load = max(s["rss_bytes"] for s in m["steps"])
    reload_transient = m["peak_rss_bytes"] - m["idle_rss_bytes"]
    # Hostile or huge bodies: at most http.decode_budget bytes of bodies are held at
    # once, each expanding to at most 21x while decoded (README "Hostile input").
    decoding = parse_size(config["http"]["decode_budget"]) * 21
    total = (under_load + cache + reload_transient + decoding) * 1.25
    return 64 * math.ceil(total / 2**20 / 64)


def parse_size(size: str) -> int:
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    for unit, factor in units.items():
        if size.endswith(unit):
            return int(size[: -len(unit)]) * factor
    return int(size)


def main() -> None:
    print(json.dumps(derive(HERE / "measured.json", HERE / "curves/trading-day.json",
                            [REPO / "deploy/keda/scaledobject.yaml",
                             REPO / "deploy/keda-scheduled/scaledobject.yaml"]), indent=1))


if __name__ == "__main__":
    main()
