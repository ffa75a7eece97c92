#!/usr/bin/env python3
"""Times inferd's answer to each hostile case (run by scripts/hostile-timing.sh).

usage: hostile_timing.py HOST:PORT SERVER_PID REPORT.md

Every case is one raw HTTP/1.1 exchange over loopback: a sender thread writes the
request while the main thread waits for the answer, so an answer that comes before
the upload ends (a limit hit while parsing) is timed as such. The stalled cases and a
client of good requests run alongside the others. Exits non-zero when a case gets
another status than the README's table says, or a good request fails.
"""
import socket
import sys
import threading
import time

HOST, PORT = sys.argv[1].rsplit(":", 1)
ADDR = (HOST, int(PORT))
PID = int(sys.argv[2])
REPORT = sys.argv[3]
ROW = "[" + ",".join(f"{0.1 * i:.1f}" for i in range(16)) + "]"
GOOD = ('{"instances":[' + ROW + "]}").encode()


def request(method, path, body=b"", extra=""):
    head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n")
    return head.encode(), body


def exchange(head, body, timeout=60.0, chunk=1 << 16):
    """Sends head+body; returns (status, seconds to the answer's first byte,
    seconds to the end of the upload or None if the server stopped reading)."""
    s = socket.create_connection(ADDR)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    t0 = time.monotonic()
    uploaded = [None]

    def send():
        try:
            s.sendall(head)
            for i in range(0, len(body), chunk):
                s.sendall(body[i:i + chunk])
            uploaded[0] = time.monotonic() - t0
        except OSError:
            pass

    sender = threading.Thread(target=send)
    sender.start()
    status = None
    try:
        first = s.recv(1 << 16)
        if first.startswith(b"HTTP/1.1 "):
            status = int(first.split(b" ", 2)[1])
    except (socket.timeout, OSError):
        pass
    answered = time.monotonic() - t0
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sender.join()
    s.close()
    return status, answered, uploaded[0]


def stalled(payload, hold=60.0):
    """Sends `payload` and stalls; returns (seconds until the server closed or
    answered, the first answer bytes)."""
    s = socket.create_connection(ADDR)
    s.settimeout(hold)
    t0 = time.monotonic()
    if payload:
        s.sendall(payload)
    try:
        data = s.recv(1 << 16)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        data = None
    finally:
        s.close()
    return time.monotonic() - t0, data


class Good(threading.Thread):
    """Good /predict requests, one at a time, until stopped."""

    def __init__(self):
        super().__init__()
        self.stop = threading.Event()
        self.times, self.failures = [], 0

    def run(self):
        while not self.stop.is_set():
            head, body = request("POST", "/predict", GOOD)
            status, answered, _ = exchange(head, body, timeout=10)
            self.times.append(answered)
            if status != 200:
                self.failures += 1
            time.sleep(0.02)


def rows(results, name, want, got, answered, uploaded, note=""):
    up = "stopped reading" if uploaded is None else f"{uploaded:.3f}"
    ok = got == want
    results.append((name, want, got, f"{answered:.3f}", up, note, ok))


def status_kib(field):
    return int(next(l.split()[1] for l in open(f"/proc/{PID}/status") if l.startswith(field)))


def main():
    results = []
    # Start-up (loading the models) has its own peak; the load's is compared with it.
    startup_hwm = status_kib("VmHWM")
    good = Good()
    good.start()

    # Stalled connections, alongside everything else.
    stalls = {}

    def stall_group(key, payload, count):
        out = []
        threads = [threading.Thread(target=lambda: out.append(stalled(payload)))
                   for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stalls[key] = out

    half_header = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Ty"
    slow_body = request("POST", "/predict", b"x" * 1000)[0] + b'{"instances":'
    stall_threads = [
        threading.Thread(target=stall_group, args=("half", half_header, 64)),
        threading.Thread(target=stall_group, args=("silent", b"", 1)),
        threading.Thread(target=stall_group, args=("body", slow_body, 1)),
    ]
    for t in stall_threads:
        t.start()

    keys = ",".join(f'"k{i}":0' for i in range(1_300_000))
    body = ('{"instances":[{' + keys + "}]}").encode()
    size = f"{len(body) / 2**20:.1f} MiB"
    rows(results, f"one row of 1.3M keys ({size})", 400, *exchange(*request("POST", "/predict", body)))
    body = ("[" * 200_000).encode()
    rows(results, "200,000 nested `[`", 400, *exchange(*request("POST", "/predict", b'{"instances":' + body)))
    body = ('{"instances":[[1e999' + ",0" * 15 + "]]}").encode()
    rows(results, "a float out of range (`1e999`)", 400, *exchange(*request("POST", "/predict", body)))
    body = ('{"instances":[{"input":' + ROW + ',"input":' + ROW + "},{}]}").encode()
    rows(results, "a duplicate key in a row", 400, *exchange(*request("POST", "/predict", body)))
    body = ('{"instances":[' + ",".join([ROW] * 65_537) + "]}").encode()
    size = f"{len(body) / 2**20:.1f} MiB"
    rows(results, f"65,537 rows, one past max_request_rows ({size})", 400,
         *exchange(*request("POST", "/predict", body)))
    head = request("POST", "/predict", b"", "")[0].replace(b"Content-Length: 0", b"Content-Length: 17825792")
    rows(results, "a declared length of 17 MiB (over max_body_bytes)", 413, *exchange(head, b""))
    rows(results, "a made-up method (`FOO1`)", 405, *exchange(*request("FOO1", "/predict")))

    # 48 bodies of 10 MiB at once: a good row padded with whitespace to 10 MiB.
    padded = GOOD + b" " * (10 * 2**20 - len(GOOD))
    answers = [None] * 48

    def one(i):
        answers[i] = exchange(*request("POST", "/predict", padded))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_status = {}
    for status, answered, _ in answers:
        by_status.setdefault(status, []).append(answered)
    for status, times in sorted(by_status.items(), key=lambda kv: str(kv[0])):
        results.append((f"48 concurrent 10 MiB bodies: {len(times)} answered {status}",
                        "200 or 503", status, f"{max(times):.3f} (slowest)", "", "",
                        status in (200, 503)))

    for t in stall_threads:
        t.join()
    half = stalls["half"]
    closed = [t for t, data in half if data == b""]
    results.append(("64 connections stalled inside their headers", "closed", f"{len(closed)} closed",
                    f"{min(t for t, _ in half):.3f}-{max(t for t, _ in half):.3f}", "",
                    "header_read_timeout 10 s", len(closed) == 64))
    t, data = stalls["silent"][0]
    results.append(("a connection that sends nothing", "closed", "closed" if data == b"" else repr(data)[:20],
                    f"{t:.3f}", "", "header_read_timeout 10 s", data == b""))
    t, data = stalls["body"][0]
    status = int(data.split(b" ", 2)[1]) if data and data.startswith(b"HTTP/1.1 ") else data
    results.append(("a body that stops after 13 of 1000 bytes", 408, status, f"{t:.3f}", "",
                    "body_read_timeout 30 s", status == 408))

    good.stop.set()
    good.join()
    hwm, rss = status_kib("VmHWM"), status_kib("VmRSS")
    times = sorted(good.times)
    lines = [
        "| case | expected | got | s to answer / close | s to end of upload | note |",
        "|---|---|---|---|---|---|",
    ] + [f"| {n} | {w} | {g} | {a} | {u} | {note} |" for n, w, g, a, u, note, _ in results] + [
        "",
        f"Good /predict requests alongside: {len(times)} sent, {good.failures} not 200, "
        f"median {times[len(times) // 2] * 1000:.1f} ms, slowest {times[-1] * 1000:.1f} ms.",
        f"Server peak RSS (VmHWM): {startup_hwm / 1024:.1f} MiB after start-up, "
        f"{hwm / 1024:.1f} MiB after all cases; RSS at the end {rss / 1024:.1f} MiB.",
    ]
    open(REPORT, "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    failed = [r[0] for r in results if not r[-1]]
    if failed or good.failures:
        print(f"FAIL: {failed} good failures {good.failures}", file=sys.stderr)
        sys.exit(1)


main()
