"""Benchmark ``focuscam serve``: live-view latency, and the CPU the server adds to ``monitor``.

A 1280x720 JPEG stack is made in a temporary folder (the frames of a ../shared stack, resized,
repeated) and replayed at 30 fps in a loop, as a webcam would deliver MJPEG frames. For each
round, one after the other, as real processes:

- ``monitor``: ``focuscam monitor --source replay:STACK --fps 30 --loop --no-window`` (lapv on
  every frame, async blur verdict: the defaults);
- ``serve``: ``focuscam serve --source replay:STACK --fps 30 --loop --port 0`` (the same monitor
  inside) with one ``/stream.mjpg`` watcher and one ``/api/events`` listener in this process,
  like one open page.

After a warm-up, each process's CPU time (user + system, ``/proc/PID/stat``) is read over the
same window: CPU % of one core = CPU seconds / wall seconds, and the frames each scored in it
(``monitor --json`` lines; the server's ``sample`` events), so that CPU per scored frame can be
compared when a loaded machine lets one of them score fewer frames. The server's addition is
reported in points of one core, relative to ``monitor``, and per scored frame.

Latency: every MJPEG part carries its frame's capture time (``X-Capture-T``, the server's
``time.monotonic()``; CLOCK_MONOTONIC is one clock for every process of this machine); latency =
``time.monotonic()`` when the whole part has been received here - that capture time.
The targets: latency under 150 ms; the server adds < 10 %.

``--width W``: the watcher asks for frames W pixels wide, as the page does (the width it shows
the frame at; 818 in a 1400x900 browser window); without it, full-size frames.

``--together``: both processes run at the same time and are read over the same window, so that
on a machine loaded by others both see the same load (the per-frame ratio is then the fair
comparison; they also compete with each other for the 2 cores).

Usage: python benchmarks/bench_serve.py [--rounds 3] [--seconds 10] [--warmup 6] [--stack NAME]
       [--width W] [--together] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import cv2

from focuscam.stacks import load_stack

SHARED = Path(os.environ.get("FOCUSCAM_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "stacks"
SIZE = (1280, 720)
TICK = os.sysconf("SC_CLK_TCK")


def make_stack(folder: Path, name: str, frames: int = 30) -> Path:
    stack = load_stack(SHARED / name)
    out = folder / "bench_720p"
    (out / "frames").mkdir(parents=True)
    entries = []
    for k in range(frames):
        img = cv2.resize(stack.image(k % len(stack)), SIZE, interpolation=cv2.INTER_AREA)
        file = f"frames/{k:04d}.jpg"
        cv2.imwrite(str(out / file), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        entries.append({"file": file, "z": None})
    meta = {"format": "focuscam-stack/1", "name": "bench_720p", "kind": "sequence", "z_unit": None,
            "description": f"{name} resized to 1280x720 JPEG", "frames": entries, "truth": None}  # fmt: skip
    (out / "stack.json").write_text(json.dumps(meta))
    return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "focuscam", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Watcher:
    """One /stream.mjpg watcher: latency of every part received while ``measuring`` is set."""

    def __init__(self, url: str, width: int | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.path = "/stream.mjpg" + ("" if width is None else f"?width={width}")
        self.latencies: list[float] = []
        self.measuring = threading.Event()
        self.received = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request("GET", self.path)
        resp = conn.getresponse()
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                if not line.startswith(b"--"):
                    continue
                head = {}
                while (line := resp.readline().strip()) != b"":
                    key, _, value = line.decode().partition(":")
                    head[key.strip().lower()] = value.strip()
                resp.read(int(head["content-length"]))
                now = time.monotonic()
                self.received += 1
                if self.measuring.is_set():
                    self.latencies.append(1000.0 * (now - float(head["x-capture-t"])))
        except (OSError, http.client.HTTPException, ValueError):
            return
        finally:
            conn.close()


class Counter:
    """Counts lines of a stream on a thread: ndjson samples of monitor, or sample events of serve."""

    def __init__(self, lines, prefix: str) -> None:
        self.n = 0
        self.prefix = prefix
        self.thread = threading.Thread(target=self.run, args=(lines,), daemon=True)
        self.thread.start()

    def run(self, lines) -> None:
        try:
            for line in lines:
                if line.startswith(self.prefix):
                    self.n += 1
        except (OSError, ValueError, http.client.HTTPException):
            return


def events_lines(url: str):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/api/events?client=bench")
    resp = conn.getresponse()
    try:
        for raw in resp:
            yield raw.decode()
    finally:
        conn.close()


class Run:
    """One process of a round: ``focuscam monitor`` or ``focuscam serve`` (with its page's streams)."""

    def __init__(self, kind: str, stack: Path, width: int | None) -> None:
        replay = ["--source", f"replay:{stack}", "--fps", "30", "--loop"]
        self.watcher: Watcher | None = None
        if kind == "monitor":
            self.proc = spawn(["monitor", *replay, "--no-window", "--json"])
            self.counter = Counter(self.proc.stdout, "{")
        else:
            self.proc = spawn(["serve", *replay, "--port", "0"])
            url = self.proc.stdout.readline().strip()
            self.watcher = Watcher(url, width)
            self.counter = Counter(events_lines(url), "event: sample")

    def begin(self) -> None:
        self.c0, self.n0, self.t0 = cpu_s(self.proc.pid), self.counter.n, time.monotonic()
        if self.watcher is not None:
            self.r0 = self.watcher.received
            self.watcher.measuring.set()

    def end(self) -> dict:
        """CPU % of one core, frames scored per second (and the watcher's figures) since begin()."""
        c1, n1, t1 = cpu_s(self.proc.pid), self.counter.n, time.monotonic()
        wall = t1 - self.t0
        out = {"cpu": 100.0 * (c1 - self.c0) / wall, "scored": (n1 - self.n0) / wall}
        if self.watcher is not None:
            self.watcher.measuring.clear()
            out["received"] = (self.watcher.received - self.r0) / wall
            out["latencies"] = sorted(self.watcher.latencies)
        return out


def measure(runs: list[Run], warmup: float, seconds: float) -> list[dict]:
    """Warm up, then read every run over one window; stop them."""
    try:
        time.sleep(warmup)
        for run in runs:
            run.begin()
        time.sleep(seconds)
        return [run.end() for run in runs]
    finally:
        for run in runs:
            stop(run.proc)


def one_round(stack: Path, args: argparse.Namespace) -> tuple[dict, dict]:
    """(monitor, serve) figures: one after the other, or over the same window (``--together``)."""
    if args.together:
        mon, srv = measure(
            [Run("monitor", stack, None), Run("serve", stack, args.width)], args.warmup, args.seconds
        )
    else:
        (mon,) = measure([Run("monitor", stack, None)], args.warmup, args.seconds)
        (srv,) = measure([Run("serve", stack, args.width)], args.warmup, args.seconds)
    return mon, srv


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--stack", default="pcb_depthmap")
    parser.add_argument(
        "--width", type=int, help="the watcher asks for frames this wide (a page does: its view's width)"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="run monitor and serve at the same time, over one window (both see the same load)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = make_stack(Path(tmp), args.stack)
        for r in range(args.rounds):
            mon_run, srv_run = one_round(stack, args)
            mon, mon_fps = mon_run["cpu"], mon_run["scored"]
            srv, srv_fps, lat, fps = (
                srv_run["cpu"],
                srv_run["scored"],
                srv_run["latencies"],
                srv_run["received"],
            )
            row = {
                "round": r + 1,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "monitor_cpu_pct": round(mon, 1),
                "monitor_scored_fps": round(mon_fps, 1),
                "monitor_cpu_ms_per_frame": round(10.0 * mon / mon_fps, 2) if mon_fps else None,
                "serve_cpu_pct": round(srv, 1),
                "serve_scored_fps": round(srv_fps, 1),
                "serve_cpu_ms_per_frame": round(10.0 * srv / srv_fps, 2) if srv_fps else None,
                "added_points": round(srv - mon, 1),
                "added_relative_pct": round(100.0 * (srv - mon) / mon, 1) if mon > 0 else None,
                "frames_received_fps": round(fps, 1),
                "latency_ms_median": round(statistics.median(lat), 1) if lat else None,
                "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
                "latency_ms_max": round(lat[-1], 1) if lat else None,
            }
            rows.append(row)
            if not args.json:
                print(row, flush=True)
    load = os.getloadavg()[0]
    per_frame = [
        100.0 * (r["serve_cpu_ms_per_frame"] / r["monitor_cpu_ms_per_frame"] - 1.0)
        for r in rows
        if r["serve_cpu_ms_per_frame"] and r["monitor_cpu_ms_per_frame"]
    ]
    summary = {
        "size": list(SIZE),
        "fps": 30,
        "view_width": args.width,
        "together": args.together,
        "load_average_1min": round(load, 2),
        "rounds": rows,
        "latency_target_ms": 150,
        "latency_ms_p95_worst": max((r["latency_ms_p95"] or 0) for r in rows),
        "added_relative_pct_median": statistics.median(r["added_relative_pct"] or 0 for r in rows),
        "added_points_median": statistics.median(r["added_points"] for r in rows),
        "added_per_frame_pct_median": round(statistics.median(per_frame), 1) if per_frame else None,
    }
    print(json.dumps(summary, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
