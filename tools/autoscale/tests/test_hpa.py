"""The HPA algorithm against cases worked by hand from the Kubernetes documentation."""

from autoscale.hpa import Autoscaler, Policy, Rules, proposal

UP = Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)))
DOWN = Rules(300, (Policy("Percent", 25, 60),))


def scaler(lo=2, hi=24):
    return Autoscaler(lo, hi, UP, DOWN)


def test_ratio_within_tolerance_keeps_the_count():
    assert proposal(10, 1.09) == 10
    assert proposal(10, 0.91) == 10


def test_ratio_outside_tolerance_rounds_up():
    assert proposal(10, 1.11) == 12  # ceil(11.1)
    assert proposal(10, 0.5) == 5
    assert proposal(3, 0.01) == 1


def test_scale_up_is_limited_by_the_larger_policy_per_period():
    hpa = scaler()
    # From 2: +100% allows 4, +4 pods allows 6; Max selects 6.
    assert hpa.sync(0, 2, 20) == 6
    # Within the same 15 s period the count cannot grow again.
    assert hpa.sync(10, 6, 20) == 6
    # Next period starts from 6: +100% allows 12.
    assert hpa.sync(16, 6, 20) == 12
    assert hpa.sync(32, 12, 20) == 20
    # maxReplicas caps whatever the metrics ask.
    assert hpa.sync(48, 20, 99) == 24


def test_scale_down_waits_for_the_stabilisation_window():
    hpa = scaler()
    assert hpa.sync(0, 12, 12) == 12
    # Load falls: proposals of 4 are held at 12 while the window still holds a 12.
    for t in range(15, 300, 15):
        assert hpa.sync(t, 12, 4) == 12
    # Past 300 s the 12 has left the window; 25% a minute: 12 -> 9.
    assert hpa.sync(301, 12, 4) == 9
    # Within the same minute no further step down.
    assert hpa.sync(316, 9, 4) == 9
    assert hpa.sync(362, 9, 4) == 6


def test_min_replicas_is_a_floor():
    hpa = Autoscaler(2, 24, UP, Rules(0, (Policy("Percent", 100, 15),)))
    assert hpa.sync(0, 5, 0) == 2


def test_disabled_direction_never_moves():
    hpa = Autoscaler(1, 24, UP, Rules(0, (Policy("Pods", 1, 60),), select="Disabled"))
    assert hpa.sync(0, 8, 1) == 8


def test_reads_behavior_from_a_manifest():
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 60}]},
        "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Min", "policies": [
            {"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    hpa = Autoscaler.from_behavior(1, 10, behavior)
    assert hpa.up.policies == (Policy("Pods", 1, 60),)
    assert hpa.down.select == "Min"
    assert hpa.sync(0, 2, 9) == 3
