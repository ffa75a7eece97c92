#!/usr/bin/env bash
# Per-row cost of each ONNX-ML operator family, inferd (tract, benches/hot_path.rs
# group `zoo`) against onnxruntime (scripts/zoo_ort_timing.py) on the same zoo
# models and batch, one after the other in one run, printed as a table with the
# ratio. Needs the Python packages of scripts/make_zoo.py. Takes ~3 minutes
# once the release build exists. ZOO_BENCH_PROFILE=dev runs the dev profile
# with inferd itself at opt-level 3 (its dependencies already are): the same
# code optimised, without a second full build of tract.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
profile=${ZOO_BENCH_PROFILE:-bench}
if [ "$profile" = dev ]; then export CARGO_PROFILE_DEV_OPT_LEVEL=3; fi
cargo bench --profile "$profile" --bench hot_path -- 'zoo/' --warm-up-time 1 --measurement-time 2 \
  > "$out/tract.txt"
python3 scripts/zoo_ort_timing.py > "$out/ort.txt"
# criterion: "zoo/<family>/64   time:   [a b c]" -> the middle estimate, per row.
python3 - "$out/tract.txt" "$out/ort.txt" <<'PY'
import re, sys
units = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
tract = {}
text = open(sys.argv[1]).read()
for fam, rows, mid, unit in re.findall(r"zoo/(\w+)/(\d+)\s+time:\s+\[\S+ \S+ (\S+) (\S+)", text):
    tract[fam] = float(mid) * units[unit] / int(rows)
print(f"{'family':28} {'inferd us/row':>14} {'onnxruntime us/row':>19} {'ratio':>7}")
for line in open(sys.argv[2]):
    fam, ort = line.split()
    ort = float(ort)
    if fam in tract:
        print(f"{fam:28} {tract[fam]:14.3f} {ort:19.3f} {tract[fam] / ort:7.2f}")
    else:
        print(f"{fam:28} {'(did not run)':>14} {ort:19.3f}")
PY
