#!/usr/bin/env bash
# Checks the monitoring configuration in config/:
#   1. prometheus.yml parses and its rule files load  (promtool check config)
#   2. alerts.yml and drift.yml are valid             (promtool check rules)
#   3. every alert fires/stays quiet as its tests say (promtool test rules)
#   4. grafana-dashboard.json is valid JSON and every PromQL query in it parses
#      (the queries are fed to promtool as recording rules, so a typo in a panel
#      fails here instead of showing an empty graph during an incident).
#
# Needs promtool, which Debian ships in the `prometheus` package
# (`apt-get install prometheus`), and python3. Exits non-zero on the first failure.
set -euo pipefail

# Run from the repository root whatever the caller's directory, because
# prometheus.yml names alerts.yml relative to itself and the messages below name
# paths relative to the root.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v promtool >/dev/null 2>&1; then
    echo "error: promtool not found on PATH." >&2
    echo "       It ships in Debian's 'prometheus' package: apt-get install prometheus" >&2
    echo "       (or use the promtool binary from a Prometheus release tarball)." >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 not found on PATH; it is needed to check the Grafana dashboard." >&2
    exit 1
fi

# Print each step so a CI log shows which check failed.
step() { printf '\n==> %s\n' "$*"; }

step "promtool check config config/prometheus.yml"
promtool check config config/prometheus.yml

step "promtool check rules config/alerts.yml"
promtool check rules config/alerts.yml

step "promtool test rules config/alerts_test.yml"
promtool test rules config/alerts_test.yml

step "promtool check rules config/drift.yml"
promtool check rules config/drift.yml

step "promtool test rules config/drift_test.yml"
promtool test rules config/drift_test.yml

step "python3 -m json.tool config/grafana-dashboard.json"
python3 -m json.tool config/grafana-dashboard.json >/dev/null
echo "  SUCCESS: valid JSON"

step "dashboard queries parse as PromQL"
# A temporary directory, removed on exit, so the check leaves nothing behind.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - config/grafana-dashboard.json "$tmp/dashboard_rules.yml" <<'PY'
"""Write every dashboard query as a recording rule, and check panel wiring."""
import json
import sys

src, out = sys.argv[1], sys.argv[2]
dash = json.load(open(src))

# Grafana substitutes these before the query reaches Prometheus; use values
# of the same kind so promtool parses what Prometheus would actually receive.
subst = {"$__rate_interval": "1m", "$__interval": "1m", "$instance": ".*", "$model": ".*"}

def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))

errors, exprs, ids = [], [], set()
for p in panels(dash["panels"]):
    if p["id"] in ids:
        errors.append(f"panel id {p['id']} is used twice")
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    # Every panel must follow the data-source variable, or it breaks on import.
    if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        errors.append(f"panel {p['title']!r} does not use ${{DS_PROMETHEUS}}")
    for t in p.get("targets", []):
        exprs.append((p["title"], t["expr"]))
for a in dash.get("annotations", {}).get("list", []):
    if "expr" in a:
        exprs.append((a["name"], a["expr"]))

with open(out, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (title, expr) in enumerate(exprs):
        for k, v in subst.items():
            expr = expr.replace(k, v)
        f.write(f"      # {title}\n      - record: dashboard:query{i}\n        expr: {json.dumps(expr)}\n")

if errors:
    sys.exit("\n".join("error: " + e for e in errors))
print(f"  {len(ids)} panels, {len(exprs)} queries extracted")
PY
promtool check rules "$tmp/dashboard_rules.yml"

printf '\nAll monitoring checks passed.\n'
