"""The HorizontalPodAutoscaler's replica algorithm, as the Kubernetes documentation
and the controller (pkg/controller/podautoscaler) describe it:

1. each metric proposes ceil(current x value / target), or the current count when
   the ratio is within the tolerance (0.1) of 1; the largest proposal wins;
2. stabilisation: the recommendation is held between the smallest proposal of the
   scale-up window and the largest of the scale-down window;
3. rate limits: the `behavior` policies bound the change from the count at the
   start of each policy's period (selectPolicy Max: the policy allowing most);
4. minReplicas and maxReplicas clamp the result.
"""

import math
from dataclasses import dataclass, field

TOLERANCE = 0.1


@dataclass(frozen=True)
class Policy:
    """One `behavior` policy: `kind` is "Pods" or "Percent"."""

    kind: str
    value: int
    period_s: int


@dataclass(frozen=True)
class Rules:
    """One direction of `behavior`: its window, policies and how one is selected."""

    window_s: int
    policies: tuple[Policy, ...]
    select: str = "Max"

    @classmethod
    def from_manifest(cls, rules: dict) -> "Rules":
        policies = tuple(Policy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in rules["policies"])
        return cls(int(rules["stabilizationWindowSeconds"]), policies, rules.get("selectPolicy", "Max"))


@dataclass
class Autoscaler:
    """An HPA's state between two syncs: past recommendations and scale events."""

    min_replicas: int
    max_replicas: int
    up: Rules
    down: Rules
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    def from_behavior(cls, min_replicas: int, max_replicas: int, behavior: dict) -> "Autoscaler":
        return cls(min_replicas, max_replicas, Rules.from_manifest(behavior["scaleUp"]),
                   Rules.from_manifest(behavior["scaleDown"]))

    def sync(self, now: float, current: int, proposal: int) -> int:
        """The replica count after one sync, given the metrics' proposal."""
        self.recommendations.append((now, proposal))
        longest = max(self.up.window_s, self.down.window_s)
        self.recommendations = [r for r in self.recommendations if r[0] > now - longest - 1]
        up_rec = min([proposal] + [r for t, r in self.recommendations if t > now - self.up.window_s])
        down_rec = max([proposal] + [r for t, r in self.recommendations if t > now - self.down.window_s])
        desired = min(max(current, up_rec), down_rec)
        if desired > current:
            desired = min(desired, max(self.up_limit(now, current), current))
        elif desired < current:
            desired = max(desired, min(self.down_limit(now, current), current))
        desired = min(max(desired, self.min_replicas), self.max_replicas)
        if desired != current:
            self.events.append((now, desired - current))
        return desired

    def changed_within(self, now: float, period_s: int) -> tuple[int, int]:
        added = sum(d for t, d in self.events if t > now - period_s and d > 0)
        removed = -sum(d for t, d in self.events if t > now - period_s and d < 0)
        return added, removed

    def up_limit(self, now: float, current: int) -> int:
        if self.up.select == "Disabled":
            return current
        limits = []
        for p in self.up.policies:
            added, removed = self.changed_within(now, p.period_s)
            start = current - added + removed
            limits.append(start + p.value if p.kind == "Pods" else math.ceil(start * (1 + p.value / 100)))
        return max(limits) if self.up.select == "Max" else min(limits)

    def down_limit(self, now: float, current: int) -> int:
        if self.down.select == "Disabled":
            return current
        limits = []
        for p in self.down.policies:
            added, removed = self.changed_within(now, p.period_s)
            start = current + removed - added
            limits.append(start - p.value if p.kind == "Pods" else int(start * (1 - p.value / 100)))
        return min(limits) if self.down.select == "Max" else max(limits)


def proposal(current: int, ratio: float) -> int:
    """One metric's proposal: ceil(current x value/target), unless within tolerance."""
    if abs(ratio - 1.0) <= TOLERANCE:
        return current
    return math.ceil(current * ratio)
