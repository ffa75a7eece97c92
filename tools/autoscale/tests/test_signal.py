"""The fleet calibration and the two counts the signal experiment compares."""

import pytest

from autoscale.signal import calibrated, decisions, demand_per_connection


SLO_MS = 10.0


def row(rate, inflight, replicas=3, p99_ms=1.0, errors=0, connections=1):
    return {"prom_rate": rate, "inflight_per_pod": inflight, "replicas": replicas,
            "p99_ms": p99_ms, "errors": errors, "connections": connections}


def test_capacity_is_the_most_served_within_the_objective():
    # Per replica: 100, 200, 400 req/s within 10 ms; 500 at 30 ms (batching
    # serves more, later); then saturated at more connections.
    steps = [row(300, 0.5), row(600, 1.0), row(1200, 3.0), row(1500, 9.0, p99_ms=30.0),
             row(1470, 20.0, p99_ms=80.0)]
    replica, target = calibrated(steps, SLO_MS)
    assert replica.capacity_rps == 400
    # 70% of 400 = 280 req/s per replica: between 200 (1.0) and 400 (3.0).
    assert target == pytest.approx(1.8)
    # A step with errors does not count, whatever its latency.
    replica, _ = calibrated([row(300, 0.5), row(600, 1.0, errors=2)], SLO_MS)
    assert replica.capacity_rps == 100


def test_steps_past_the_objective_do_not_shape_the_target():
    # A CPU-limited replica: past 180 req/s the rate stays near it while the
    # queue grows, so some of those steps serve less than the last good one.
    steps = [row(291, 0.133), row(540, 0.367), row(567, 0.567, p99_ms=32.0), row(528, 0.767, p99_ms=40.0),
             row(525, 1.7, p99_ms=50.0), row(780, 4.067, p99_ms=66.0)]
    replica, target = calibrated(steps, SLO_MS)
    assert replica.capacity_rps == 180
    # 70% of 180 = 126 req/s: between 97 (0.133) and 180 (0.367), not pulled
    # toward the 175 req/s step's 1.7.
    assert target == pytest.approx(0.21, abs=0.005)


def test_with_latency_constant_the_hpa_asks_what_the_capacity_model_asks():
    # In-flight = rate x latency (Little's law); constant latency 5 ms.
    steps = [row(3 * r, r * 0.005) for r in (100, 200, 300, 400)]
    replica, target = calibrated(steps, SLO_MS)
    # Rates whose ratio to the current count is outside the HPA's 0.1 tolerance
    # (inside it the HPA keeps the count, where the model may round up).
    for fleet_rate in (150, 600, 1500, 2400):
        hpa, model = decisions(row(fleet_rate, fleet_rate / 3 * 0.005), target, replica)
        assert hpa == model, fleet_rate


def test_latency_growing_with_load_makes_the_hpa_ask_for_more():
    replica, target = calibrated([row(300, 0.5), row(600, 1.0), row(1200, 3.0)], SLO_MS)
    # At saturation in-flight has grown 4x while the rate stayed: the HPA scales
    # on the queue, the capacity model only on the rate.
    hpa, model = decisions(row(1200, 12.0), target, replica)
    assert hpa > model


def test_demand_is_the_lightest_steps_rate_per_connection():
    # Steps in any order; the 2-connection step is the lightest, at 250 req/s each.
    steps = [row(900, 2.0, connections=8), row(500, 0.2, connections=2), row(700, 0.5, connections=3)]
    assert demand_per_connection(steps) == 250
