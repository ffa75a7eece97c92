"""Replays a day-shaped load curve against three autoscaling policies, each read
from the manifests it simulates:

- scheduled: deploy/keda-scheduled/scaledobject.yaml (cron: bell, market hours);
- dynamic:   deploy/hpa/hpa.yaml (in-flight per pod, then CPU);
- both:      deploy/keda/scaledobject.yaml (cron for the bell + prometheus).

Every 15 s (the HPA's sync period) the offered load is spread over the Ready
replicas; the metrics are averaged over the last minute as the adapter's query
does; the autoscaler syncs (autoscale.hpa); new replicas become Ready one measured
cold start later. Load beyond Ready x capacity is counted as late.

    PYTHONPATH=tools/autoscale python3 -m autoscale.simulate tools/autoscale/curves/*.json
"""

import argparse
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .hpa import Autoscaler, proposal
from .model import Curve, Replica
from .schedule import Window, scheduled_replicas, windows

STEP_S = 15
METRIC_WINDOW_STEPS = 4  # avg_over_time(...[1m]) at a 15 s scrape
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Policy:
    """How one autoscaling setup decides: its autoscaler, schedule and metric targets."""

    name: str
    autoscaler: Autoscaler
    schedule: list[Window] = field(default_factory=list)
    inflight_target: float | None = None  # per pod
    cpu_target: float | None = None  # utilisation of the request, 0..1

    def propose(self, minute: float, current: int, inflight_total: float, cpu_ready_total: float) -> int:
        proposals = []
        if self.schedule:
            wanted = scheduled_replicas(self.schedule, minute, self.autoscaler.min_replicas)
            proposals.append(proposal(current, wanted / current))
        if self.inflight_target is not None:
            proposals.append(proposal(current, inflight_total / (current * self.inflight_target)))
        if self.cpu_target is not None:
            # Pods not yet Ready count as using nothing, as the HPA does when scaling up.
            proposals.append(proposal(current, cpu_ready_total / (current * self.cpu_target)))
        return max(proposals) if proposals else self.autoscaler.min_replicas


@dataclass
class Outcome:
    """One policy's day: cost and lateness, and the replica count at every step."""

    policy: str
    replica_hours: float = 0.0
    seconds_over: float = 0.0
    requests_over: float = 0.0
    requests: float = 0.0
    peak_replicas: int = 0
    timeline: list[tuple[float, float, int, int]] = field(default_factory=list)  # minute, load, pods, ready

    @property
    def minutes_over(self) -> float:
        return self.seconds_over / 60


def simulate(curve: Curve, replica: Replica, policy: Policy) -> Outcome:
    out = Outcome(policy.name)
    ready_at = [0.0] * policy.autoscaler.min_replicas  # start of day: the floor, warm
    samples: deque[tuple[float, float]] = deque(maxlen=METRIC_WINDOW_STEPS)
    t = curve.start_min * 60
    while t < curve.end_min * 60:
        minute, load = t / 60, curve.rate(t / 60)
        ready = sum(1 for r in ready_at if r <= t)
        per_pod = load / ready if ready else float("inf")
        if ready:
            samples.append((ready * replica.inflight(per_pod), ready * replica.cpu_utilisation(per_pod)))
        over = max(0.0, load - ready * replica.capacity_rps)
        out.requests += load * STEP_S
        out.requests_over += over * STEP_S
        out.seconds_over += STEP_S if over > 0 else 0
        out.replica_hours += len(ready_at) * STEP_S / 3600
        out.peak_replicas = max(out.peak_replicas, len(ready_at))
        out.timeline.append((minute, load, len(ready_at), ready))
        if samples:
            inflight = sum(s[0] for s in samples) / len(samples)
            cpu = sum(s[1] for s in samples) / len(samples)
            current = len(ready_at)
            wanted = policy.autoscaler.sync(t, current, policy.propose(minute, current, inflight, cpu))
            ready_at = resize(ready_at, wanted, t + replica.cold_start_s)
        t += STEP_S
    return out


def resize(ready_at: list[float], wanted: int, ready_time: float) -> list[float]:
    """Adds pods Ready at `ready_time`, or removes the least ready first (as a
    ReplicaSet deletes unready and newer pods before older ones)."""
    if wanted >= len(ready_at):
        return ready_at + [ready_time] * (wanted - len(ready_at))
    return sorted(ready_at)[:wanted]


def policies(deploy: Path) -> list[Policy]:
    """The three policies, read from the manifests under `deploy`."""
    hpa = yaml.safe_load((deploy / "hpa/hpa.yaml").read_text())["spec"]
    inflight = float(next(m["pods"]["target"]["averageValue"] for m in hpa["metrics"] if m["type"] == "Pods"))
    cpu = next((m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"] if m["type"] == "Resource"),
               None)
    scheduled, both = (yaml.safe_load((deploy / f"{d}/scaledobject.yaml").read_text())
                       for d in ("keda-scheduled", "keda"))
    prom = next(t for t in both["spec"]["triggers"] if t["type"] == "prometheus")

    def keda(so: dict) -> Autoscaler:
        spec = so["spec"]
        behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        return Autoscaler.from_behavior(spec["minReplicaCount"], spec["maxReplicaCount"], behavior)

    def crons(so: dict) -> list[Window]:
        tz = next(t["metadata"]["timezone"] for t in so["spec"]["triggers"] if t["type"] == "cron")
        return windows(so, tz)

    return [
        Policy("scheduled (KEDA cron only)", keda(scheduled), schedule=crons(scheduled)),
        Policy("dynamic (HPA: in-flight, CPU)",
               Autoscaler.from_behavior(hpa["minReplicas"], hpa["maxReplicas"], hpa["behavior"]),
               inflight_target=inflight, cpu_target=cpu / 100 if cpu is not None else None),
        Policy("both (KEDA cron + prometheus)", keda(both), schedule=crons(both),
               inflight_target=float(prom["metadata"]["threshold"])),
    ]


def probe_delay(deploy: Path) -> float:
    """Worst-case wait from process ready to pod Ready: one startup-probe period plus
    one readiness-probe period, as deploy/base/deployment.yaml sets them."""
    dep = yaml.safe_load((deploy / "base/deployment.yaml").read_text())
    container = dep["spec"]["template"]["spec"]["containers"][0]
    return container["startupProbe"]["periodSeconds"] + container["readinessProbe"]["periodSeconds"]


def table(curve: Curve, outcomes: list[Outcome]) -> str:
    lines = [f"{curve.name} (peak {curve.peak_rps:,.0f} req/s, {curve.timezone})", "",
             "| policy | replica-hours | minutes over capacity | requests over capacity | peak replicas |",
             "|---|---|---|---|---|"]
    for o in outcomes:
        share = 100 * o.requests_over / o.requests if o.requests else 0
        lines.append(f"| {o.policy} | {o.replica_hours:.1f} | {o.minutes_over:.2f} | "
                     f"{o.requests_over:,.0f} ({share:.3f}%) | {o.peak_replicas} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("curves", nargs="+", type=Path)
    ap.add_argument("--measured", type=Path, default=REPO / "tools/autoscale/measured.json")
    ap.add_argument("--deploy", type=Path, default=REPO / "deploy")
    ap.add_argument("--extra-start-s", type=float, default=0,
                    help="NOT measured here: seconds a cluster adds to each new pod (image pull, "
                         "a new node); to see how the answer moves with them")
    args = ap.parse_args()
    replica = Replica.from_measured(args.measured, probe_delay(args.deploy) + args.extra_start_s)
    print(f"replica: capacity {replica.capacity_rps:,.0f} req/s, cold start to Ready "
          f"{replica.cold_start_s:.1f} s (from {args.measured.name}"
          f"{f', plus {args.extra_start_s:g} s not measured' if args.extra_start_s else ''})\n")
    for path in args.curves:
        curve = Curve.load(path)
        print(table(curve, [simulate(curve, replica, p) for p in policies(args.deploy)]) + "\n")


if __name__ == "__main__":
    main()
