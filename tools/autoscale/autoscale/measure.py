"""Measures one inferd replica and writes the parameters the simulator and the
manifests use (tools/autoscale/measured.json):

- cold start: process start (or `docker run`) until /readyz answers 200;
- capacity: offered load in steps (wrk with paced.lua) against a replica pinned to
  one core, the Deployment's CPU request; capacity is the highest achieved rate
  whose p99 stays within the latency objective, with no errors;
- at each step: mean in-flight requests (the gauge sampled every 50 ms, less the
  /metrics request that reads it), CPU cores used and peak resident memory.

Run by scripts/autoscale-measure.sh. Figures depend on the machine and on whatever
else runs on it; the file records the conditions with them.
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .load import MODEL, pinned, prioritise, request_bodies, run_wrk, scrape

INFLIGHT = "inferd_inflight_requests"
RSS = "process_resident_memory_bytes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, limit_s: float = 120) -> float:
    """Seconds until GET url answers 200 (polled every 5 ms); raises past limit_s."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{url} not ready within {limit_s}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cold_starts(binary: str, runs: int, cpu: str, repo: Path) -> list[float]:
    """Process start to ready, `runs` times, each a fresh process."""
    times = []
    for _ in range(runs):
        port = free_port()
        start = time.monotonic()
        proc = subprocess.Popen([*pinned(cpu), binary, "--listen", f"127.0.0.1:{port}",
                                 "--workers", "1", "--log-level", "warn"], cwd=repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        prioritise(proc.pid)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            times.append(time.monotonic() - start)
        finally:
            stop(proc)
    return times


def container_cold_starts(image: str, runs: int) -> list[float]:
    """`docker run` to ready, through a port published on 127.0.0.1, `runs` times."""
    times = []
    for _ in range(runs):
        port = free_port()
        start = time.monotonic()
        cid = subprocess.run(["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8080", image],
                             capture_output=True, text=True, check=True).stdout.strip()
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            times.append(time.monotonic() - start)
        finally:
            subprocess.run(["docker", "stop", "-t", "30", cid], capture_output=True, check=False)
    return times


class Sampler(threading.Thread):
    """Reads /metrics every 50 ms while a load step runs."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.inflight, self.rss = url, [], []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            m = scrape(self.url)
            # The /metrics request reading the gauge is itself in flight.
            self.inflight.append(max(m[INFLIGHT] - 1, 0))
            self.rss.append(m[RSS])
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process from /proc (clock ticks, 100 per second here).
    Not process_cpu_seconds_total: the metrics crate counts it in whole seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_steps(url: str, pid: int, conns_steps: list[int], seconds: int, delay_ms: int,
               client_cpu: str) -> list[dict]:
    metrics = url.replace("/predict", "/metrics")
    body = request_bodies(Path(tempfile.mkdtemp()) / "row.json")
    run_wrk(url, 8, 3, body, delay_ms, client_cpu)  # warm-up, not recorded
    steps = []
    for conns in conns_steps:
        cpu_before, sampler = cpu_seconds(pid), Sampler(metrics)
        sampler.start()
        result = run_wrk(url, conns, seconds, body, delay_ms, client_cpu)
        sampler.halt.set()
        sampler.join()
        cpu_used = (cpu_seconds(pid) - cpu_before) / result.seconds
        steps.append({"connections": conns, "rate": round(result.rate, 1), "p50_ms": result.p50_ms,
                      "p99_ms": result.p99_ms, "errors": result.non_2xx + result.socket_errors,
                      "inflight": round(statistics.fmean(sampler.inflight), 3),
                      "cpu_cores": round(cpu_used, 3), "rss_bytes": int(max(sampler.rss))})
        print(json.dumps(steps[-1]), flush=True)
    return steps


def capacity(steps: list[dict], slo_p99_ms: float) -> float:
    """The highest achieved rate with p99 within the objective and no errors."""
    good = [s["rate"] for s in steps if s["p99_ms"] <= slo_p99_ms and s["errors"] == 0]
    if not good:
        raise ValueError(f"no load step met p99 <= {slo_p99_ms} ms")
    return max(good)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/inferd")
    ap.add_argument("--image", help="also time `docker run` to ready with this image")
    ap.add_argument("--out", default="tools/autoscale/measured.json")
    ap.add_argument("--slo-p99-ms", type=float, default=10.0)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--delay-ms", type=int, default=1)
    ap.add_argument("--steps", default="1,2,4,6,8,12,16,24,32,48")
    ap.add_argument("--cold-runs", type=int, default=5)
    args = ap.parse_args()
    repo = Path.cwd()
    cold = cold_starts(args.binary, args.cold_runs, "0", repo)
    print(f"cold start (process to ready): {cold}", flush=True)
    port = free_port()
    proc = subprocess.Popen([*pinned("0"), args.binary, "--listen", f"127.0.0.1:{port}",
                             "--workers", "1", "--log-level", "warn"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    prioritise(proc.pid)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        idle = scrape(f"http://127.0.0.1:{port}/metrics")
        steps = load_steps(f"http://127.0.0.1:{port}/predict", proc.pid, [int(c) for c in args.steps.split(",")],
                           args.seconds, args.delay_ms, "1")
        peak_rss = peak_hwm(proc.pid)
    finally:
        stop(proc)
    out = {
        "measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conditions": (f"{os.cpu_count()} cores shared with other work (builds); inferd release build pinned to core 0 at nice -20 "
                       "with 1 inference worker (the Deployment's 1-CPU request), wrk on core 1 at nice -20, "
                       f"{MODEL} /predict 1 row, Cache-Control: no-store, loopback"),
        "workload": f"{MODEL} /predict, 1 row, cache bypassed",
        "slo_p99_ms": args.slo_p99_ms,
        "cold_start_process_s": [round(t, 3) for t in cold],
        "idle_inflight_gauge_during_scrape": idle[INFLIGHT],
        "idle_rss_bytes": int(idle[RSS]),
        "peak_rss_bytes": peak_rss,
        "steps": steps,
        "capacity_rps": capacity(steps, args.slo_p99_ms),
    }
    if args.image:
        out["cold_start_container_s"] = [round(t, 3) for t in container_cold_starts(args.image, args.cold_runs)]
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}: capacity {out['capacity_rps']} req/s", flush=True)


def peak_hwm(pid: int) -> int:
    """VmHWM: the process's peak resident set since it started, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmHWM")


if __name__ == "__main__":
    main()
