import pytest

from autoscale.schedule import Window, parse_time, scheduled_replicas, windows


def so(*triggers):
    return {"spec": {"triggers": list(triggers)}}


def cron(start, end, replicas, tz="America/New_York"):
    return {"type": "cron", "metadata": {"timezone": tz, "start": start, "end": end,
                                         "desiredReplicas": str(replicas)}}


def test_parses_minute_and_hour():
    assert parse_time("20 9 * * 1-5") == 9 * 60 + 20


@pytest.mark.parametrize("expr", ["*/5 9 * * 1-5", "0 9 1 * *", "0 9 * *", "60 9 * * *"])
def test_refuses_what_it_cannot_simulate(expr):
    with pytest.raises(ValueError):
        parse_time(expr)


def test_windows_are_half_open_and_the_largest_wins():
    ws = windows(so(cron("20 9 * * 1-5", "30 10 * * 1-5", 14), cron("0 10 * * 1-5", "0 16 * * 1-5", 9),
                    {"type": "prometheus", "metadata": {}}), "America/New_York")
    assert ws == [Window(560, 630, 14), Window(600, 960, 9)]
    assert scheduled_replicas(ws, 559.9, 2) == 2
    assert scheduled_replicas(ws, 560, 2) == 14
    assert scheduled_replicas(ws, 629, 2) == 14
    assert scheduled_replicas(ws, 630, 2) == 9
    assert scheduled_replicas(ws, 960, 2) == 2


def test_refuses_a_schedule_in_another_timezone():
    with pytest.raises(ValueError, match="timezone|America"):
        windows(so(cron("0 9 * * *", "0 10 * * *", 3, tz="UTC")), "America/New_York")
