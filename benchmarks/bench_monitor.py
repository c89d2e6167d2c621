"""Benchmark the monitor pipeline on a 1920x1080 video: does scoring keep up with decoding?

The video is generated in a temporary folder (frames of a ../shared stack, upscaled to
1920x1080, MJPG or mp4v). For each round, in the same process and interleaved:

- ``raw decode``: a plain ``cv2.VideoCapture.read()`` loop (no thread), for reference;
- ``decode only``: the file through :class:`focuscam.sources.CameraSource` (its grab thread and
  buffer) with nothing done per frame: the pipeline's own decode rate;
- ``pipeline``: :class:`focuscam.monitor.Monitor` on the same source, scoring every frame
  (``lapv`` on the whole frame; blur verdict off), and the same with the default asynchronous
  blur verdict (at most 5 per second) and with a 3x3 focus map.

It reports frames per second (median over the rounds), the overhead of each pipeline over
``decode only`` in per-frame time: ``(t_pipeline / t_decode - 1) * 100 %``, and the time the
scoring worker spent per frame (``MonitorSample.measure_ms``, median): the work that runs
beside decoding and is hidden by it when a core is free. The claim checked:
scoring adds under 10 % to the per-frame time of decoding alone.

Usage: python benchmarks/bench_monitor.py [--frames N] [--rounds R] [--codec MJPG|mp4v]
       [--stack NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

from focuscam.monitor import Monitor
from focuscam.sources import CameraSource
from focuscam.stacks import load_stack

SHARED = Path(os.environ.get("FOCUSCAM_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "stacks"
SIZE = (1920, 1080)


def make_video(folder: Path, stack_name: str, frames: int, codec: str) -> Path:
    stack = load_stack(SHARED / stack_name)
    suffix = ".avi" if codec == "MJPG" else ".mp4"
    path = folder / f"bench_1080p{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 30.0, SIZE)
    if not writer.isOpened():
        raise SystemExit(f"cannot write a {codec} video with this OpenCV build")
    scaled = [cv2.resize(stack.image(i), SIZE, interpolation=cv2.INTER_CUBIC) for i in range(len(stack))]
    scaled = [cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img for img in scaled]
    for k in range(frames):
        writer.write(scaled[k % len(scaled)])
    writer.release()
    return path


def raw_decode(path: Path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    t0 = time.monotonic()
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    dt = time.monotonic() - t0
    cap.release()
    return n, dt


def source_decode(path: Path) -> tuple[int, float]:
    with CameraSource(path, timeout=None) as src:  # a file delivers or ends: no deadline
        t0 = time.monotonic()
        n = sum(1 for _ in src)
        return n, time.monotonic() - t0


SCORING_MS: dict[str, list[float]] = {}


def pipeline(path: Path, label: str = "", **kw) -> tuple[int, float]:
    src = CameraSource(path, timeout=None)  # a file delivers or ends: wait for that, not 5 s
    mon = Monitor(src, **kw)
    spent: list[float] = []
    mon.subscribe(lambda sample: spent.append(sample.measure_ms))
    t0 = time.monotonic()
    mon.start()
    mon.wait()
    dt = time.monotonic() - t0
    if label:
        SCORING_MS.setdefault(label, []).append(statistics.median(spent))
    return mon.count, dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames in the generated video")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    ap.add_argument("--codec", default="MJPG", choices=("MJPG", "mp4v"))
    ap.add_argument("--stack", default="scorpion_lapse", help="shared stack whose frames are upscaled")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)

    runs = {
        "raw decode (cv2 read loop)": raw_decode,
        "decode only (CameraSource)": source_decode,
    }
    for name, kw in (
        ("pipeline: lapv, blur off", {"blur": "off"}),
        ("pipeline: lapv + async blur (default)", {"blur": "async"}),
        ("pipeline: lapv + 3x3 map, blur off", {"grid": (3, 3), "blur": "off"}),
    ):
        runs[name] = lambda p, name=name, kw=kw: pipeline(p, name, measure="lapv", **kw)
    with tempfile.TemporaryDirectory(prefix="focuscam-bench-") as tmp:
        path = make_video(Path(tmp), args.stack, args.frames, args.codec)
        # warm up: compile/load the kernels and the decoder once
        pipeline(path, measure="lapv", grid=(3, 3), blur="sync", frames=3)
        times: dict[str, list[float]] = {name: [] for name in runs}
        counts: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                n, dt = fn(path)
                counts[name] = n
                times[name].append(dt / n)
    per_frame = {name: statistics.median(v) for name, v in times.items()}
    base = per_frame["decode only (CameraSource)"]
    rows = []
    for name, t in per_frame.items():
        rows.append(
            {
                "run": name,
                "frames": counts[name],
                "ms_per_frame": round(t * 1000, 3),
                "fps": round(1.0 / t, 1),
                "overhead_pct_vs_decode_only": round((t / base - 1) * 100, 1),
                "scoring_ms_per_frame": (
                    round(statistics.median(SCORING_MS[name]), 3) if name in SCORING_MS else None
                ),
            }
        )
    info = {
        "video": f"{SIZE[0]}x{SIZE[1]} {args.codec}, {args.frames} frames from {args.stack}",
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "results": rows,
    }
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"video: {info['video']}; median of {args.rounds} interleaved rounds; {info['cpus']} CPUs")
    print(f"{'run':40s} {'ms/frame':>9s} {'fps':>7s} {'overhead':>9s} {'scoring ms':>11s}")
    for r in rows:
        scoring = "" if r["scoring_ms_per_frame"] is None else f"{r['scoring_ms_per_frame']:11.3f}"
        print(
            f"{r['run']:40s} {r['ms_per_frame']:9.3f} {r['fps']:7.1f} "
            f"{r['overhead_pct_vs_decode_only']:8.1f}% {scoring}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
