"""The fleet calibration and the two counts the signal experiment compares."""

import pytest

from autoscale.signal import calibrated, decisions


def row(rate, inflight, replicas=3):
    return {"prom_rate": rate, "inflight_per_pod": inflight, "replicas": replicas}


def test_capacity_is_the_most_served_and_the_target_sits_at_seventy_percent():
    # Per replica: 100, 200, 400 req/s, then saturated (390 at more connections).
    steps = [row(300, 0.5), row(600, 1.0), row(1200, 3.0), row(1170, 9.0)]
    replica, target = calibrated(steps)
    assert replica.capacity_rps == 400
    # 70% of 400 = 280 req/s per replica: between 200 (1.0) and 400 (3.0).
    assert target == pytest.approx(1.8)


def test_with_latency_constant_the_hpa_asks_what_the_capacity_model_asks():
    # In-flight = rate x latency (Little's law); constant latency 5 ms.
    steps = [row(3 * r, r * 0.005) for r in (100, 200, 300, 400)]
    replica, target = calibrated(steps)
    # Rates whose ratio to the current count is outside the HPA's 0.1 tolerance
    # (inside it the HPA keeps the count, where the model may round up).
    for fleet_rate in (150, 600, 1500, 2400):
        hpa, model = decisions(row(fleet_rate, fleet_rate / 3 * 0.005), target, replica)
        assert hpa == model, fleet_rate


def test_latency_growing_with_load_makes_the_hpa_ask_for_more():
    replica, target = calibrated([row(300, 0.5), row(600, 1.0), row(1200, 3.0)])
    # At saturation in-flight has grown 4x while the rate stayed: the HPA scales
    # on the queue, the capacity model only on the rate.
    hpa, model = decisions(row(1200, 12.0), target, replica)
    assert hpa > model
