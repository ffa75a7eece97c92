"""The load generator (wrk with tools/autoscale/paced.lua) and the metrics reader."""

import json
import os
import re
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PACED_LUA = HERE / "paced.lua"
REPO = HERE.parent.parent


@dataclass
class WrkResult:
    """One bounded wrk run: what was achieved, not what was offered."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# The workload of every measurement here: one-row /predict requests to dense-net,
# whose compute dominates its cost (~0.3 ms a row). The forecaster answers in
# microseconds: one paced wrk on one core cannot offer enough to load even one
# replica of it, so its in-flight numbers would measure the load generator.
MODEL = "dense-net"


def request_bodies(path: Path, model: str = MODEL) -> Path:
    """Writes one-row requests for `model`, one per line, one per reference input."""
    ref = json.loads((REPO / f"models/{model}/1/reference.json").read_text())
    lines = [json.dumps({"model": model, "instances": [row]}, separators=(",", ":")) for row in ref["inputs"]]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, conns: int, seconds: int, body: Path, delay_ms: int, cpu: str | None) -> WrkResult:
    """Runs wrk for a fixed time (bounded by --timeout per request and `seconds` overall)."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(PACED_LUA), url]
    if cpu is not None:
        cmd = pinned(cpu) + cmd
    env = dict(os.environ, BODY_FILE=str(body), DELAY_MS=str(delay_ms))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, start_new_session=cpu is not None)
    if cpu is not None:
        prioritise(proc.pid)
    out, _ = proc.communicate(timeout=seconds + 30)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}")
    return parse_wrk(out)


def pinned(cpu: str) -> list[str]:
    """Runs on one core at the highest CPU weight (nice -20), as a pod's CPU request
    is a CFS weight: on a machine shared with builds the measured process still
    gets its core, as a pod gets its request on a busy node. Start it in its own
    session and call `prioritise`: with autogroup scheduling, nice only ranks
    processes within one session."""
    return ["nice", "-n", "-20", "taskset", "-c", cpu]


def prioritise(pid: int) -> None:
    """Gives the process's own session (autogroup) the highest CPU weight."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text("-20")


def parse_wrk(text: str) -> WrkResult:
    match = re.search(r"^RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+) (\d+)$", text, re.M)
    if match is None:
        raise ValueError(f"no RESULT line in wrk output:\n{text}")
    req, micros, p50, p99, status, sock = match.groups()
    return WrkResult(int(req), int(micros) / 1e6, float(p50) / 1e3, float(p99) / 1e3, int(status), int(sock))


def scrape(url: str) -> dict[str, float]:
    """Reads a Prometheus text exposition into {series: value} (series with labels as written)."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        return parse_metrics(resp.read().decode())


def parse_metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    return values
