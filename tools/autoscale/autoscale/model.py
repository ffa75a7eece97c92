"""What the simulator knows about one replica and about the day's load, all read
from files: measured.json (written by `measure`) and a load-curve file."""

import bisect
import json
import math
from dataclasses import dataclass
from pathlib import Path

# The share of measured capacity a replica is meant to run at: the rest absorbs
# the load that arrives while new replicas are still starting. A design choice,
# stated in deploy/README.md; the simulator shows what it costs and buys.
TARGET_UTILISATION = 0.7


def interpolate(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear through sorted points, extended linearly past the last two."""
    xs = [p[0] for p in points]
    i = bisect.bisect_right(xs, x)
    if i == 0:
        return points[0][1] * x / points[0][0] if points[0][0] > 0 else points[0][1]
    if i == len(points):
        i -= 1
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Replica:
    """One replica as measured: capacity, cold start and its metric curves."""

    capacity_rps: float
    cold_start_s: float
    inflight_by_rate: list[tuple[float, float]]
    cpu_by_rate: list[tuple[float, float]]
    cpu_request_cores: float = 1.0

    @classmethod
    def from_measured(cls, path: Path, startup_delay_s: float) -> "Replica":
        """`startup_delay_s` is added to the measured cold start: the probes' periods,
        which delay the first Ready after the process is ready."""
        m = json.loads(Path(path).read_text())
        cold = m.get("cold_start_container_s") or m["cold_start_process_s"]
        steps = sorted(m["steps"], key=lambda s: s["rate"])
        return cls(
            capacity_rps=m["capacity_rps"],
            cold_start_s=max(cold) + startup_delay_s,
            inflight_by_rate=dedupe([(s["rate"], s["inflight"]) for s in steps]),
            cpu_by_rate=dedupe([(s["rate"], s["cpu_cores"]) for s in steps]),
        )

    def inflight(self, rate_per_pod: float) -> float:
        return max(interpolate(self.inflight_by_rate, rate_per_pod), 0.0)

    def cpu_utilisation(self, rate_per_pod: float) -> float:
        cores = min(interpolate(self.cpu_by_rate, rate_per_pod), self.cpu_request_cores * 2)
        return max(cores, 0.0) / self.cpu_request_cores

    def needed(self, rate: float) -> int:
        """The capacity model: replicas for `rate` at the target utilisation."""
        return max(1, math.ceil(rate / (self.capacity_rps * TARGET_UTILISATION)))


def dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drops points whose rate repeats (a saturated replica), keeping the first."""
    out: list[tuple[float, float]] = []
    for x, y in points:
        if not out or x > out[-1][0]:
            out.append((x, y))
    return out


@dataclass(frozen=True)
class Curve:
    """Offered load through the day: (minute after local midnight, share of peak)."""

    name: str
    timezone: str
    peak_rps: float
    points: list[tuple[float, float]]

    @classmethod
    def load(cls, path: Path) -> "Curve":
        c = json.loads(Path(path).read_text())
        points = [(to_minute(t), float(share)) for t, share in c["points"]]
        if any(b[0] < a[0] for a, b in zip(points, points[1:])):
            raise ValueError(f"{path}: points must be in time order")
        if any(not 0 <= s <= 1 for _, s in points):
            raise ValueError(f"{path}: shares of peak must be within 0..1")
        return cls(c["name"], c["timezone"], float(c["peak_rps"]), points)

    @property
    def start_min(self) -> float:
        return self.points[0][0]

    @property
    def end_min(self) -> float:
        return self.points[-1][0]

    def rate(self, minute: float) -> float:
        """Offered requests per second at `minute` (a repeated minute is a step)."""
        pts = self.points
        i = bisect.bisect_right([p[0] for p in pts], minute)
        if i == 0:
            return pts[0][1] * self.peak_rps
        if i == len(pts):
            return pts[-1][1] * self.peak_rps
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return (y0 + (y1 - y0) * (minute - x0) / (x1 - x0)) * self.peak_rps

    def peak_between(self, start_min: float, end_min: float) -> float:
        inside = [s for m, s in self.points if start_min <= m < end_min]
        edges = [self.rate(start_min), self.rate(end_min - 1e-6)]
        return max([s * self.peak_rps for s in inside] + edges)


def to_minute(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + float(minutes)
