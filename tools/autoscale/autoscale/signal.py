"""The in-flight signal on the compose fleet: offered load in steps at the load
balancer; at the end of each step the metric is read from Prometheus with the
prometheus-adapter rule's own expression (deploy/hpa/prometheus-adapter.yaml,
grouped by `instance` since compose has no pods); the HPA's desired count,
ceil(current x value / target) with its tolerance, is set beside the count the
capacity model asks for, ceil(rate / (capacity x target utilisation)), both with
the capacity and target from tools/autoscale/measured.json and deploy/hpa/hpa.yaml.

    PYTHONPATH=tools/autoscale python3 -m autoscale.signal   # fleet already up
"""

import argparse
import json
import math
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from .hpa import proposal
from .load import PACED_LUA, parse_wrk, prioritise, request_bodies
from .model import TARGET_UTILISATION, Replica

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


def step(args, conns: int, body: Path, target: float, replica: Replica) -> dict:
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{args.seconds}s", "--timeout", "5s", "-s", str(PACED_LUA),
           f"{args.lb}/predict"]
    env = {"BODY_FILE": str(body), "DELAY_MS": "1", "PATH": "/usr/bin:/bin"}
    wrk = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    prioritise(wrk.pid)
    time.sleep(args.seconds - 2)  # the 1m window now holds only this step's samples
    pods = query(args.prometheus, adapter_expression(args.selector))
    served = query(args.prometheus, f'sum(rate(inferd_http_requests_total{{{args.selector},route="/predict"}}[1m]))')
    out, _ = wrk.communicate(timeout=60)
    result = parse_wrk(out)
    if not pods or not served:
        raise RuntimeError(f"Prometheus has no inferd series for {args.selector}: is the fleet scraped?")
    values = [float(p["value"][1]) for p in pods]
    mean = sum(values) / len(values)
    rate = float(served[0]["value"][1])
    return {"connections": conns, "wrk_rate": round(result.rate), "prom_rate": round(rate),
            "p99_ms": result.p99_ms, "errors": result.non_2xx + result.socket_errors,
            "replicas": len(values), "inflight_per_pod": round(mean, 3),
            "hpa_desired": proposal(len(values), mean / target),
            "model_needed": max(1, math.ceil(rate / (replica.capacity_rps * TARGET_UTILISATION)))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lb", default="http://127.0.0.1:8080")
    ap.add_argument("--prometheus", default="http://127.0.0.1:9090")
    ap.add_argument("--selector", default='job="inferd"')
    ap.add_argument("--steps", default="2,8,24,48,96")
    ap.add_argument("--seconds", type=int, default=75)
    args = ap.parse_args()
    hpa = yaml.safe_load((REPO / "deploy/hpa/hpa.yaml").read_text())["spec"]
    target = float(next(m["pods"]["target"]["averageValue"] for m in hpa["metrics"] if m["type"] == "Pods"))
    replica = Replica.from_measured(REPO / "tools/autoscale/measured.json", 0)
    body = request_bodies(Path(tempfile.mkdtemp()) / "row.json")
    print(f"target {target} in-flight per pod; capacity {replica.capacity_rps:,.0f} req/s per replica "
          f"at {TARGET_UTILISATION:.0%}; query: {adapter_expression(args.selector)}", flush=True)
    print("| wrk conns | wrk req/s | Prometheus req/s | p99 ms | errors | replicas | in-flight/pod "
          "| HPA desired | capacity model |\n|---|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for conns in [int(c) for c in args.steps.split(",")]:
        r = step(args, conns, body, target, replica)
        rows.append(r)
        print(f"| {r['connections']} | {r['wrk_rate']:,} | {r['prom_rate']:,} | {r['p99_ms']:.2f} | {r['errors']} "
              f"| {r['replicas']} | {r['inflight_per_pod']} | {r['hpa_desired']} | {r['model_needed']} |",
              flush=True)
    worst = max(abs(r["hpa_desired"] - r["model_needed"]) for r in rows)
    print(f"largest gap between the HPA's count and the capacity model's: {worst}")
    if rows[-1]["inflight_per_pod"] <= rows[0]["inflight_per_pod"]:
        print("FAIL: the in-flight signal did not rise with the offered load")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
