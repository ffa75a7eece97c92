"""KEDA cron windows, read from a ScaledObject's `cron` triggers.

Only the daily form "M H * * DOW" is understood (a minute and an hour, any day of
month and month): that is what market hours need, and anything else is refused
rather than simulated wrongly. The simulated day is a weekday in the trigger's
timezone, which must equal the load curve's.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """[start, end) in minutes after local midnight, holding `replicas`."""

    start_min: int
    end_min: int
    replicas: int

    def active(self, minute: float) -> bool:
        return self.start_min <= minute < self.end_min


def parse_time(expr: str) -> int:
    fields = expr.split()
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*" or not fields[0].isdigit() or not fields[1].isdigit():
        raise ValueError(f"cron {expr!r}: only 'M H * * DOW' with a fixed minute and hour is supported")
    minute, hour = int(fields[0]), int(fields[1])
    if minute > 59 or hour > 23:
        raise ValueError(f"cron {expr!r}: minute or hour out of range")
    return hour * 60 + minute


def windows(scaled_object: dict, timezone: str) -> list[Window]:
    """The cron triggers of a ScaledObject as windows; refuses another timezone."""
    found = []
    for trigger in scaled_object["spec"]["triggers"]:
        if trigger["type"] != "cron":
            continue
        meta = trigger["metadata"]
        if meta["timezone"] != timezone:
            raise ValueError(f"cron trigger in {meta['timezone']}, load curve in {timezone}")
        window = Window(parse_time(meta["start"]), parse_time(meta["end"]), int(meta["desiredReplicas"]))
        if window.end_min <= window.start_min:
            raise ValueError(f"cron window {meta['start']} .. {meta['end']} ends before it starts")
        found.append(window)
    return found


def scheduled_replicas(windows_: list[Window], minute: float, floor: int) -> int:
    """What the cron triggers ask for at `minute`: the largest active window, else `floor`."""
    return max([w.replicas for w in windows_ if w.active(minute)] + [floor])
