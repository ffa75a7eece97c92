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


def forecaster_body(path: Path) -> Path:
    """Writes a one-row stock-forecaster request taken from the model's reference inputs."""
    ref = json.loads((REPO / "models/stock-forecaster/1/reference.json").read_text())
    path.write_text(json.dumps({"instances": ref["inputs"][:1]}, separators=(",", ":")))
    return path


def run_wrk(url: str, conns: int, seconds: int, body: Path, delay_ms: int, cpu: str | None) -> WrkResult:
    """Runs wrk for a fixed time (bounded by --timeout per request and `seconds` overall)."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", str(PACED_LUA), url]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu] + cmd
    env = dict(os.environ, BODY_FILE=str(body), DELAY_MS=str(delay_ms))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(out.stdout)


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
