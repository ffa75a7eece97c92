"""Splits a rendered kustomization by schema and checks what schemas cannot:

- core kinds go to one file for kubernetes-validate, ScaledObjects to another for
  check-jsonschema; any other kind is refused (nothing here could validate it);
- at most one autoscaler (HPA or ScaledObject) per Deployment, and none may scale a
  Deployment that still sets `replicas` (every apply would reset the count);
- the pod's stop budget: preStop sleep + inferd's shutdown grace period must end
  before terminationGracePeriodSeconds, or the kubelet kills a draining pod;
- enableServiceLinks off, non-root, read-only root filesystem, and the probes on
  /healthz and /readyz.

    python3 -m autoscale.manifests RENDERED.yaml OUT_DIR   # exit 1 with the reasons
"""

import sys
from pathlib import Path

import yaml

CORE_GROUPS = {"v1", "apps/v1", "policy/v1", "autoscaling/v2"}


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60}
    for unit in ("ms", "s", "m"):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(f"duration {duration!r}: expected a number with ms, s or m")


def check_deployment(dep: dict) -> list[str]:
    name = dep["metadata"]["name"]
    pod = dep["spec"]["template"]["spec"]
    errors = []
    if pod.get("enableServiceLinks") is not False:
        errors.append(f"Deployment {name}: enableServiceLinks must be false (injected INFERD_* variables)")
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        errors.append(f"Deployment {name}: securityContext.runAsNonRoot must be true")
    for c in pod["containers"]:
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            errors.append(f"Deployment {name}: container {c['name']} needs readOnlyRootFilesystem")
        probes = {k: c.get(k, {}).get("httpGet", {}).get("path") for k in
                  ("startupProbe", "readinessProbe", "livenessProbe")}
        if probes != {"startupProbe": "/healthz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}:
            errors.append(f"Deployment {name}: probes must be startup /healthz, readiness /readyz, "
                          f"liveness /healthz; found {probes}")
        errors += check_stop_budget(name, pod, c)
    return errors


def check_stop_budget(name: str, pod: dict, container: dict) -> list[str]:
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    grace = seconds(env.get("INFERD_SHUTDOWN_GRACE_PERIOD") or "20s")
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = float(command[1]) if command[:1] == ["sleep"] and len(command) == 2 else 0.0
    budget = pod.get("terminationGracePeriodSeconds", 30)
    if sleep + grace >= budget:
        return [f"Deployment {name}: preStop sleep {sleep:g}s + shutdown grace {grace:g}s must be under "
                f"terminationGracePeriodSeconds {budget}"]
    return []


def check(docs: list[dict]) -> list[str]:
    errors = []
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    scalers: dict[str, list[str]] = {}
    for d in docs:
        if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = d["spec"]["scaleTargetRef"]["name"]
            scalers.setdefault(target, []).append(f"{d['kind']}/{d['metadata']['name']}")
    for target, found in scalers.items():
        if len(found) > 1:
            errors.append(f"Deployment {target} has {len(found)} autoscalers ({', '.join(found)}): keep one")
        if target not in deployments:
            errors.append(f"{found[0]} scales Deployment {target}, which is not in this kustomization")
        elif "replicas" in deployments[target]["spec"]:
            errors.append(f"Deployment {target} sets replicas although {found[0]} owns the count")
    for dep in deployments.values():
        errors += check_deployment(dep)
    return errors


def split(docs: list[dict], out: Path) -> list[str]:
    """Writes core.yaml and scaledobject-N.yaml under `out`; returns refusals."""
    core, errors = [], []
    for d in docs:
        if d.get("apiVersion") in CORE_GROUPS:
            core.append(d)
        elif d.get("apiVersion") == "keda.sh/v1alpha1" and d.get("kind") == "ScaledObject":
            (out / f"scaledobject-{d['metadata']['name']}.yaml").write_text(yaml.safe_dump(d))
        else:
            errors.append(f"{d.get('apiVersion')} {d.get('kind')}: no schema here to validate it against")
    (out / "core.yaml").write_text(yaml.safe_dump_all(core))
    return errors


def main() -> int:
    rendered, out = Path(sys.argv[1]), Path(sys.argv[2])
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    errors = split(docs, out) + check(docs)
    for e in errors:
        print(f"{rendered.name}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
