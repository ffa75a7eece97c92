"""The simulator on small made-up replicas and curves whose answers are known."""

import json

import pytest

from autoscale.hpa import Autoscaler, Policy as Rate, Rules
from autoscale.model import Curve, Replica, interpolate
from autoscale.schedule import Window
from autoscale.simulate import STEP_S, Policy, simulate

# 1000 req/s per replica; in-flight 0.001 per req/s up to capacity, steeper past it.
REPLICA = Replica(1000, 30, [(0, 0), (1000, 1.0), (1100, 5.0)], [(0, 0), (1000, 1.0)])
FAST_UP = Rules(0, (Rate("Percent", 100, 15), Rate("Pods", 4, 15)))
SLOW_DOWN = Rules(300, (Rate("Percent", 25, 60),))


def curve(points, peak=1000.0):
    return Curve("test", "America/New_York", peak, points)


def fixed(n):
    return Policy("fixed", Autoscaler(n, n, FAST_UP, SLOW_DOWN))


def dynamic(target=0.7):
    return Policy("dynamic", Autoscaler(2, 50, FAST_UP, SLOW_DOWN), inflight_target=target)


def test_interpolation_is_linear_and_extends_past_the_last_point():
    pts = [(0, 0), (10, 1), (20, 3)]
    assert interpolate(pts, 5) == 0.5
    assert interpolate(pts, 30) == 5


def test_curve_steps_where_a_minute_repeats_with_a_new_share():
    c = curve([(0, 0.1), (569, 0.1), (570, 1.0), (600, 0.5)], peak=2000)
    assert c.rate(569) == pytest.approx(200)
    assert c.rate(570) == pytest.approx(2000)
    assert c.rate(585) == pytest.approx(1500)


def test_replica_hours_of_a_fixed_fleet_are_count_times_hours():
    out = simulate(curve([(600, 0.5), (720, 0.5)]), REPLICA, fixed(3))
    assert out.replica_hours == pytest.approx(3 * 2)
    assert out.requests_over == 0 and out.minutes_over == 0


def test_load_beyond_ready_capacity_is_counted_late():
    # 2 replicas (2000 req/s) against 3000 req/s for one hour.
    out = simulate(curve([(600, 1.0), (660, 1.0)], peak=3000), REPLICA, fixed(2))
    assert out.minutes_over == pytest.approx(60)
    assert out.requests_over == pytest.approx(1000 * 3600)


def test_dynamic_catches_a_step_after_its_cold_start_and_settles_near_the_model():
    c = curve([(600, 0.2), (629.99, 0.2), (630, 1.0), (720, 1.0)], peak=10000)
    out = simulate(c, REPLICA, dynamic())
    late = out.minutes_over * 60
    # Late at least for the cold start, and for no more than a few syncs beyond it.
    assert REPLICA.cold_start_s <= late <= REPLICA.cold_start_s + 8 * STEP_S
    final = out.timeline[-1]
    assert final[3] >= REPLICA.needed(10000) - 1  # ready replicas near ceil(10000 / 700)


def test_a_longer_cold_start_costs_more_late_requests():
    c = curve([(600, 0.2), (629.99, 0.2), (630, 1.0), (720, 1.0)], peak=10000)
    slow = Replica(1000, 120, REPLICA.inflight_by_rate, REPLICA.cpu_by_rate)
    assert simulate(c, slow, dynamic()).requests_over > simulate(c, REPLICA, dynamic()).requests_over


def test_a_schedule_in_place_before_the_step_leaves_nothing_late():
    c = curve([(600, 0.2), (629.99, 0.2), (630, 1.0), (720, 1.0)], peak=10000)
    scheduled = Policy("cron", Autoscaler(2, 50, FAST_UP, SLOW_DOWN), schedule=[Window(620, 720, 15)])
    out = simulate(c, REPLICA, scheduled)
    assert out.requests_over == 0
    assert out.peak_replicas == 15


def test_measured_file_feeds_the_replica(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"capacity_rps": 500, "cold_start_process_s": [0.5, 0.9],
                                "steps": [{"rate": 100, "inflight": 0.1, "cpu_cores": 0.2},
                                          {"rate": 500, "inflight": 0.6, "cpu_cores": 0.9},
                                          {"rate": 500, "inflight": 9.0, "cpu_cores": 1.0}]}))
    r = Replica.from_measured(path, startup_delay_s=7)
    assert r.capacity_rps == 500
    assert r.cold_start_s == pytest.approx(7.9)
    assert r.inflight_by_rate == [(100, 0.1), (500, 0.6)]
