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

Usage: python benchmarks/bench_serve.py [--rounds 3] [--seconds 10] [--warmup 6] [--stack NAME]
       [--width W] [--json]
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


def window(proc: subprocess.Popen, warmup: float, seconds: float) -> float:
    """CPU % of one core over ``seconds`` after ``warmup`` seconds."""
    time.sleep(warmup)
    c0, t0 = cpu_s(proc.pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_s(proc.pid), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0)


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


def measured(proc: subprocess.Popen, counter: Counter, warmup: float, seconds: float) -> tuple[float, float]:
    """(CPU % of one core, frames scored per second) over the window."""
    time.sleep(warmup)
    n0 = counter.n
    cpu = window(proc, 0.0, seconds)
    return cpu, (counter.n - n0) / seconds


def round_monitor(stack: Path, warmup: float, seconds: float) -> tuple[float, float]:
    args = ["monitor", "--source", f"replay:{stack}", "--fps", "30", "--loop", "--no-window", "--json"]
    proc = spawn(args)
    try:
        return measured(proc, Counter(proc.stdout, "{"), warmup, seconds)
    finally:
        stop(proc)


def round_serve(
    stack: Path, warmup: float, seconds: float, width: int | None
) -> tuple[float, float, list[float], float]:
    proc = spawn(["serve", "--source", f"replay:{stack}", "--fps", "30", "--loop", "--port", "0"])
    try:
        url = proc.stdout.readline().strip()
        watcher = Watcher(url, width)
        counter = Counter(events_lines(url), "event: sample")
        time.sleep(warmup)
        watcher.measuring.set()
        n0 = watcher.received
        cpu, scored = measured(proc, counter, 0.0, seconds)
        watcher.measuring.clear()
        fps = (watcher.received - n0) / seconds
        return cpu, scored, list(watcher.latencies), fps
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--stack", default="pcb_depthmap")
    parser.add_argument(
        "--width", type=int, help="the watcher asks for frames this wide (a page does: its view's width)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = make_stack(Path(tmp), args.stack)
        for r in range(args.rounds):
            mon, mon_fps = round_monitor(stack, args.warmup, args.seconds)
            srv, srv_fps, lat, fps = round_serve(stack, args.warmup, args.seconds, args.width)
            lat.sort()
            row = {
                "round": r + 1,
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
