"""The in-flight signal on the compose fleet, in two phases.

1. Calibration: short load steps at the load balancer, past the latency
   objective, give this fleet's own replica (replicas here run under a CPU
   limit on 2 cores shared with the load balancer, Prometheus and wrk, so they
   are slower than one with a core of its own): its capacity within the
   objective, as measured.json defines it, and its in-flight at
   TARGET_UTILISATION of that, the target.
2. The signal: longer steps at other loads. At the end of each, the metric is
   read from Prometheus with the prometheus-adapter rule's own expression
   (deploy/hpa/prometheus-adapter.yaml, grouped by `instance` since compose has
   no pods); the HPA's desired count, ceil(current x value / target) with its
   tolerance, is set beside the count the capacity model asks for, ceil(rate /
   (capacity x target utilisation)): with this fleet's calibration, and with the
   manifests' (deploy/hpa/hpa.yaml's target, tools/autoscale/measured.json's
   capacity).

    PYTHONPATH=tools/autoscale python3 -m autoscale.signal   # fleet already up
"""

import argparse
import json
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from .hpa import proposal
from .load import PACED_LUA, parse_wrk, prioritise, request_bodies
from .measure import capacity as measured_capacity
from .model import TARGET_UTILISATION, Replica, dedupe

REPO = Path(__file__).resolve().parents[3]


def adapter_expression(selector: str) -> str:
    """The adapter rule's metricsQuery with its template filled for compose."""
    rule = yaml.safe_load((REPO / "deploy/hpa/prometheus-adapter.yaml").read_text())["rules"][0]
    return (rule["metricsQuery"].replace("<<.Series>>", "inferd_inflight_requests")
            .replace("<<.LabelMatchers>>", selector).replace("<<.GroupBy>>", "instance"))


def query(prometheus: str, expr: str) -> list[dict]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {body}")
    return body["data"]["result"]


def observe(args, conns: int, body: Path, seconds: int, window: str = "1m") -> dict:
    """One load step at `conns` paced connections for `seconds`; near its end, the
    in-flight metric per instance (the adapter's expression, over `window`) and
    the served rate, read from Prometheus."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(PACED_LUA),
           f"{args.lb}/predict"]
    env = {"BODY_FILE": str(body), "DELAY_MS": "1", "PATH": "/usr/bin:/bin"}
    wrk = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    prioritise(wrk.pid)
    time.sleep(seconds - 2)  # the window now holds only this step's samples
    expr = adapter_expression(args.selector).replace("[1m]", f"[{window}]")
    pods = query(args.prometheus, expr)
    served = query(args.prometheus,
                   f'sum(rate(inferd_http_requests_total{{{args.selector},route="/predict"}}[{window}]))')
    out, _ = wrk.communicate(timeout=60)
    result = parse_wrk(out)
    if not pods or not served:
        raise RuntimeError(f"Prometheus has no inferd series for {args.selector}: is the fleet scraped?")
    values = [float(p["value"][1]) for p in pods]
    return {"connections": conns, "wrk_rate": round(result.rate), "prom_rate": round(float(served[0]["value"][1])),
            "p99_ms": result.p99_ms, "errors": result.non_2xx + result.socket_errors,
            "replicas": len(values), "inflight_per_pod": round(sum(values) / len(values), 3)}


def calibrated(rows: list[dict], slo_p99_ms: float) -> tuple[Replica, float]:
    """A replica as this fleet serves it, from calibration steps in load order:
    per-replica rate against in-flight per pod. Its capacity is defined as
    measured.json's is (autoscale.measure): the highest per-replica rate whose
    step kept p99 within the objective with no errors; with batching, a replica
    serves more past that, at latencies no client was promised. The target is
    the in-flight at TARGET_UTILISATION of the capacity, as autoscale.derive
    takes it."""
    per_replica = [dict(r, rate=r["prom_rate"] / r["replicas"]) for r in rows]
    capacity = measured_capacity(per_replica, slo_p99_ms)
    # The curve from the steps within the objective only: past it the served rate
    # wanders (throttled or batching) while the queue grows, and those points,
    # sorted by rate, would land among the unloaded ones and lift the target.
    within = [r for r in per_replica if r["p99_ms"] <= slo_p99_ms and r["errors"] == 0]
    points = dedupe(sorted((r["rate"], r["inflight_per_pod"]) for r in within))
    replica = Replica(capacity_rps=capacity, cold_start_s=0.0, inflight_by_rate=points, cpu_by_rate=[])
    return replica, round(replica.inflight(capacity * TARGET_UTILISATION), 2)


def demand_per_connection(rows: list[dict]) -> float:
    """What one paced connection asks for when nothing queues: the served rate per
    connection at the lightest calibration step. wrk's paced connections are a
    closed loop (each waits for its answer, then 1 ms), so past the objective the
    served rate falls behind what the same connections would send to enough
    replicas; that demand is connections x this rate."""
    lightest = min(rows, key=lambda r: r["connections"])
    return lightest["prom_rate"] / lightest["connections"]


def decisions(row: dict, target: float, replica: Replica) -> tuple[int, int]:
    """The HPA's desired count from the row's in-flight, and the capacity model's."""
    return proposal(row["replicas"], row["inflight_per_pod"] / target), replica.needed(row["prom_rate"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lb", default="http://127.0.0.1:8080")
    ap.add_argument("--prometheus", default="http://127.0.0.1:9090")
    ap.add_argument("--selector", default='job="inferd"')
    ap.add_argument("--calibrate", default="1,2,3,4,6,8,12,16",
                    help="connections of the calibration steps (past saturation)")
    ap.add_argument("--calibrate-seconds", type=int, default=30)
    ap.add_argument("--steps", default="1,2,3,5,8,12")
    ap.add_argument("--seconds", type=int, default=65)
    args = ap.parse_args()
    hpa = yaml.safe_load((REPO / "deploy/hpa/hpa.yaml").read_text())["spec"]
    manifest_target = float(next(m["pods"]["target"]["averageValue"] for m in hpa["metrics"] if m["type"] == "Pods"))
    dedicated = Replica.from_measured(REPO / "tools/autoscale/measured.json", 0)
    body = request_bodies(Path(tempfile.mkdtemp()) / "row.json")
    print(f"query: {adapter_expression(args.selector)}", flush=True)

    # 1. This fleet's own replica: capacity and in-flight curve, measured now.
    window = f"{max(args.calibrate_seconds - 10, 10)}s"
    print(f"calibration ({args.calibrate_seconds} s steps, metric over {window}):\n"
          "| wrk conns | Prometheus req/s | per replica | p99 ms | errors | in-flight/pod |\n|---|---|---|---|---|---|",
          flush=True)
    calibration = []
    for conns in [int(c) for c in args.calibrate.split(",")]:
        r = observe(args, conns, body, args.calibrate_seconds, window)
        calibration.append(r)
        print(f"| {conns} | {r['prom_rate']:,} | {r['prom_rate'] / r['replicas']:,.0f} | {r['p99_ms']:.2f} "
              f"| {r['errors']} | {r['inflight_per_pod']} |", flush=True)
    slo = json.loads((REPO / "tools/autoscale/measured.json").read_text())["slo_p99_ms"]
    fleet, target = calibrated(calibration, slo)
    print(f"this fleet: capacity {fleet.capacity_rps:,.0f} req/s per replica (p99 within {slo} ms), in-flight "
          f"target {target} per pod (at {TARGET_UTILISATION:.0%}); the manifests: {dedicated.capacity_rps:,.0f} "
          f"req/s on a core of its own, target {manifest_target}", flush=True)

    per_connection = demand_per_connection(calibration)
    print(f"demand per paced connection: {per_connection:,.0f} req/s (the lightest calibration step)", flush=True)

    # 2. The signal at other loads, separately measured, against both calibrations.
    print("| wrk conns | wrk req/s | Prometheus req/s | p99 ms | errors | replicas | in-flight/pod "
          "| HPA desired | capacity model, served | demand req/s | capacity model, demand "
          "| HPA, manifest target | capacity model, measured.json |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for conns in [int(c) for c in args.steps.split(",")]:
        r = observe(args, conns, body, args.seconds)
        r["hpa_desired"], r["model_needed"] = decisions(r, target, fleet)
        r["demand"] = round(conns * per_connection)
        r["model_for_demand"] = fleet.needed(r["demand"])
        manifest_hpa, manifest_model = decisions(r, manifest_target, dedicated)
        rows.append(r)
        print(f"| {conns} | {r['wrk_rate']:,} | {r['prom_rate']:,} | {r['p99_ms']:.2f} | {r['errors']} "
              f"| {r['replicas']} | {r['inflight_per_pod']} | {r['hpa_desired']} | {r['model_needed']} "
              f"| {r['demand']:,} | {r['model_for_demand']} | {manifest_hpa} | {manifest_model} |", flush=True)
    for name, key in (("the served rate", "model_needed"), ("the demand", "model_for_demand")):
        gaps = [r["hpa_desired"] - r[key] for r in rows]
        print(f"HPA's count against this fleet's capacity model at {name}: equal at {gaps.count(0)} of "
              f"{len(rows)} steps, gaps {gaps}")
    if rows[-1]["inflight_per_pod"] <= rows[0]["inflight_per_pod"]:
        print("FAIL: the in-flight signal did not rise with the offered load")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
