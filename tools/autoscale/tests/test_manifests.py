"""The committed manifests against the measurements, and the validation against typos."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from autoscale.derive import derive

HERE = Path(__file__).resolve().parents[1]
REPO = HERE.parents[1]
DEPLOY = REPO / "deploy"
VALIDATE = REPO / "scripts/validate-manifests.sh"


def load(rel):
    return yaml.safe_load((DEPLOY / rel).read_text())


def test_manifest_numbers_are_the_ones_derived_from_measurements():
    want = derive(HERE / "measured.json", HERE / "curves/trading-day.json",
                  [DEPLOY / "keda/scaledobject.yaml", DEPLOY / "keda-scheduled/scaledobject.yaml"])
    hpa = load("hpa/hpa.yaml")["spec"]
    pods = next(m for m in hpa["metrics"] if m["type"] == "Pods")
    cpu = next(m for m in hpa["metrics"] if m["type"] == "Resource")
    assert float(pods["pods"]["target"]["averageValue"]) == want["target_inflight"]
    assert cpu["resource"]["target"]["averageUtilization"] == want["target_cpu_percent"]
    spec = load("keda/scaledobject.yaml")["spec"]
    prom = next(t for t in spec["triggers"] if t["type"] == "prometheus")
    assert float(prom["metadata"]["threshold"]) == want["target_inflight"]
    crons = {}
    for rel in ("keda/scaledobject.yaml", "keda-scheduled/scaledobject.yaml"):
        triggers = load(rel)["spec"]["triggers"]
        for t in (t for t in triggers if t["type"] == "cron"):
            assert int(t["metadata"]["desiredReplicas"]) == want["cron_replicas"][t["name"]], rel
            crons[t["name"]] = int(t["metadata"]["desiredReplicas"])
    assert crons.keys() == want["cron_replicas"].keys()
    resources = load("base/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == f"{want['memory_mib']}Mi"
    # The fallback holds the largest scheduled size, and the ceiling is above it.
    assert spec["fallback"]["replicas"] == max(crons.values())
    assert spec["maxReplicaCount"] > max(crons.values())


def test_hpa_and_keda_share_the_behaviour_and_the_query():
    hpa = load("hpa/hpa.yaml")["spec"]
    for rel in ("keda/scaledobject.yaml", "keda-scheduled/scaledobject.yaml"):
        spec = load(rel)["spec"]
        assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == hpa["behavior"]
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (hpa["minReplicas"], hpa["maxReplicas"])
    rule = load("hpa/prometheus-adapter.yaml")["rules"][0]["metricsQuery"]
    prom = next(t for t in load("keda/scaledobject.yaml")["spec"]["triggers"] if t["type"] == "prometheus")["metadata"]["query"]
    inner = "clamp_min(avg_over_time(inferd_inflight_requests{%s}[1m]) - 1, 0)"
    assert inner % "<<.LabelMatchers>>" in rule.replace("<<.Series>>", "inferd_inflight_requests")
    assert prom.strip() == "sum(%s)" % (inner % 'namespace="inferd",pod=~"inferd-.*"')


def validate(tmp_path, edit):
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    edit(copy)
    return subprocess.run(["bash", str(VALIDATE), str(copy)], capture_output=True, text=True, timeout=300)


def replace(rel, old, new):
    def edit(copy):
        path = copy / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))
    return edit


def test_the_shipped_manifests_pass(tmp_path):
    result = validate(tmp_path, lambda copy: None)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rel, old, new, says", [
    # A misspelt core field: kubernetes-validate --strict refuses it.
    ("base/deployment.yaml", "readOnlyRootFilesystem:", "readOnlyRootFilesytem:", "readOnlyRootFilesytem"),
    ("hpa/hpa.yaml", "stabilizationWindowSeconds: 300", "stabilisationWindowSeconds: 300", "stabilisation"),
    # A misspelt KEDA field, and a cron trigger missing its timezone: the vendored schema.
    ("keda/scaledobject.yaml", "pollingInterval:", "pollingIntervall:", "pollingIntervall"),
    ("keda/scaledobject.yaml", "timezone: America/New_York", "timezon: America/New_York", "timezon"),
    # A misspelt adapter key.
    ("hpa/prometheus-adapter.yaml", "seriesQuery:", "seriesQeury:", "seriesQeury"),
    # What no schema catches: the stop budget and the injected service variables.
    ("base/deployment.yaml", 'command: ["sleep", "5"]', 'command: ["sleep", "15"]', "preStop sleep 15s"),
    ("base/deployment.yaml", "enableServiceLinks: false", "enableServiceLinks: true", "enableServiceLinks"),
])
def test_a_typo_fails_validation(tmp_path, rel, old, new, says):
    result = validate(tmp_path, replace(rel, old, new))
    assert result.returncode != 0, result.stdout
    assert says in result.stdout + result.stderr


def test_two_autoscalers_on_one_deployment_fail_validation(tmp_path):
    def add_hpa_to_keda(copy):
        shutil.copy(copy / "hpa/hpa.yaml", copy / "keda/hpa.yaml")
        replace("keda/kustomization.yaml", "  - scaledobject.yaml", "  - scaledobject.yaml\n  - hpa.yaml")(copy)

    result = validate(tmp_path, add_hpa_to_keda)
    assert result.returncode != 0, result.stdout
    assert "2 autoscalers" in result.stderr
