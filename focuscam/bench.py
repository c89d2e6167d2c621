"""Benchmark of the focus measures against OpenCV and a memory floor (issue 2, section 4).

Run with ``focuscam bench [--json] [--quick]`` or ``python benchmarks/bench_measures.py``.

Method
------
For each frame kind (size, dtype, channels) and each ROI (the full frame and a centred ROI of 25%
of the area) every method is timed *interleaved*: one call of each method in turn, repeated, after
a warm-up. Each call gets the next frame of a cycle of distinct random frames whose total size is
at least 96 MB (three times the 32 MB last-level cache of the machine this was tuned on), so a
frame is never hot in cache, like a fresh camera frame. The medians are reported.

Methods: ``lapv`` (focuscam), ``cv_ref`` (``cvtColor`` where needed + ``cv2.Laplacian(CV_64F)`` on
the ROI + ``.var()``), ``cv_fast`` (the fastest OpenCV formulation found: ``CV_16S`` Laplacian for
uint8 or ``CV_32F`` for uint16, then ``cv2.meanStdDev``), ``floor`` (one numba pass that only reads
and sums the same ROI pixels) and every other focus measure.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: (label, height, width, channels, dtype)
FRAMES = [
    ("640x480 u8 gray", 480, 640, 1, np.uint8),
    ("1920x1080 u8 gray", 1080, 1920, 1, np.uint8),
    ("1920x1080 u8 BGR", 1080, 1920, 3, np.uint8),
    ("1920x1080 u16 gray", 1080, 1920, 1, np.uint16),
    ("3840x2160 u8 BGR", 2160, 3840, 3, np.uint8),
    ("5472x3648 u16 gray", 3648, 5472, 1, np.uint16),
]
ROIS = ("full", "roi25")
#: Extra ROI kinds, per frame label: a centred 512 x 512 ROI on the 1080p frames (issue 15).
EXTRA_ROIS = {label: ("roi512",) for label, _h, w, _c, _d in FRAMES if w == 1920}
#: Bytes of distinct frames cycled through per frame kind (cold cache).
COLD_BYTES = 96 << 20
QUICK_BYTES = 8 << 20

#: Measures compared with their fastest OpenCV formulation (the ``cv_<name>`` methods).
OTHER_MEASURES = ("lapm", "lapd", "teng", "tenv", "bren", "vola", "vol5", "wavs", "fftb")
#: (frame label, roi, quantity, comparison, limit): issue 2's targets, then issue 15's table.
TARGETS = [
    ("1920x1080 u8 gray", "full", "ref_over_lapv", ">=", 20.0),
    ("1920x1080 u8 BGR", "full", "ref_over_lapv", ">=", 10.0),
    ("1920x1080 u8 gray", "full", "lapv_over_floor", "<=", 1.5),
    ("1920x1080 u8 BGR", "full", "lapv_over_floor", "<=", 1.5),
    ("1920x1080 u16 gray", "full", "lapv_over_floor", "<=", 1.7),
    ("5472x3648 u16 gray", "full", "lapv_over_floor", "<=", 1.7),
    ("1920x1080 u8 gray", "roi512", "cv_over_lapv", ">=", 1.5),
    ("1920x1080 u8 BGR", "roi512", "cv_over_lapv", ">=", 1.5),
    ("1920x1080 u8 gray", "full", "cv_over_glvn", ">=", 1.0),
    *(("1920x1080 u8 gray", "full", f"cv_over_{name}", ">=", 1.5) for name in OTHER_MEASURES),
]
#: Warm ``focuscam select`` of a 5-frame 320x240 stack: process CPU seconds (user + system).
SELECT_CPU_S = 0.5


def centred_roi(height: int, width: int, kind: str) -> tuple[int, int, int, int]:
    """``(x, y, w, h)``: the whole frame, a centred 512 x 512 ROI (``roi512``), or a centred
    half-width x half-height ROI (``roi25``, 25% of the area)."""
    if kind == "full":
        return 0, 0, width, height
    if kind == "roi512":
        w, h = min(512, width), min(512, height)
        return (width - w) // 2, (height - h) // 2, w, h
    w, h = width // 2, height // 2
    return (width - w) // 2, (height - h) // 2, w, h


def make_frames(height: int, width: int, channels: int, dtype, count: int, seed: int = 0) -> list:
    """``count`` distinct random frames (full dtype range)."""
    rng = np.random.default_rng(seed)
    shape = (height, width, channels) if channels == 3 else (height, width)
    top = np.iinfo(dtype).max
    return [rng.integers(0, top + 1, shape, dtype=dtype) for _ in range(count)]


def methods(roi: tuple[int, int, int, int], channels: int, dtype) -> dict:
    """name -> callable(frame) for one frame kind and ROI."""
    import cv2

    from .bench_cv import cv_methods
    from .measures import MEASURES, measure
    from .measures._kernels import read_floor

    x, y, w, h = roi

    def gray_crop(f):
        crop = f[y : y + h, x : x + w]
        return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if channels == 3 else crop

    def cv_ref(f):
        return cv2.Laplacian(gray_crop(f), cv2.CV_64F).var()

    fast_depth = cv2.CV_16S if np.dtype(dtype) == np.uint8 else cv2.CV_32F

    def cv_fast(f):
        _mean, std = cv2.meanStdDev(cv2.Laplacian(gray_crop(f), fast_depth))
        return float(std[0, 0]) ** 2

    def floor(f):
        flat = f.reshape(f.shape[0], -1)
        return read_floor(flat, y, y + h, x * channels, (x + w) * channels)

    shape = (h, w, channels) if channels == 3 else (h, w)
    dst = np.empty(shape, dtype)

    def floor_copy(f):
        np.copyto(dst, f[y : y + h, x : x + w])

    table = {
        "lapv": lambda f: measure(f, "lapv", roi),
        "cv_ref": cv_ref,
        "cv_fast": cv_fast,
        "floor_sum": floor,
        "floor_copy": floor_copy,
    }
    for name in MEASURES:
        if name != "lapv":
            table[name] = lambda f, name=name: measure(f, name, roi)
    table.update(cv_methods(roi, channels, dtype))
    return table


def time_interleaved(funcs: dict, frames: list, repeats: int) -> dict:
    """Median seconds per call of each function, called in turn on successive frames."""
    for fn in funcs.values():  # warm-up (compile, first touch)
        fn(frames[0])
    samples = {name: [] for name in funcs}
    i = 0
    for _ in range(repeats):
        for name, fn in funcs.items():
            frame = frames[i % len(frames)]
            i += 1
            t0 = time.perf_counter()
            fn(frame)
            samples[name].append(time.perf_counter() - t0)
    return {name: float(np.median(v)) for name, v in samples.items()}


def bench_frames(quick: bool = False, progress=None) -> list[dict]:
    """One row per (frame kind, ROI) with median milliseconds per method and the ratios."""
    rows = []
    for label, height, width, channels, dtype in FRAMES:
        nbytes = height * width * channels * np.dtype(dtype).itemsize
        budget = QUICK_BYTES if quick else COLD_BYTES
        count = max(2 if quick else 3, math.ceil(budget / nbytes))
        frames = make_frames(height, width, channels, dtype, count)
        pixels = height * width
        repeats = 3 if quick else max(7, min(60, int(60e6 / pixels)))
        for kind in (*ROIS, *EXTRA_ROIS.get(label, ())):
            roi = centred_roi(height, width, kind)
            if progress:
                progress(f"{label} {kind} ({count} frames, {repeats} repeats)")
            med = time_interleaved(methods(roi, channels, dtype), frames, repeats)
            ms = {k: v * 1e3 for k, v in med.items()}
            # the read floor: the faster of a numba byte sum and np.copyto of the same pixels
            ms["floor"] = min(ms["floor_sum"], ms["floor_copy"])
            row = {
                "frame": label,
                "roi": kind,
                "roi_xywh": list(roi),
                "frames_cycled": count,
                "repeats": repeats,
                "ms": ms,
                "ref_over_lapv": ms["cv_ref"] / ms["lapv"],
                "fast_over_lapv": ms["cv_fast"] / ms["lapv"],
                "lapv_over_floor": ms["lapv"] / ms["floor"],
            }
            for name in ("lapv", "glvn", *OTHER_MEASURES):
                row[f"cv_over_{name}"] = ms[f"cv_{name}"] / ms[name]
            rows.append(row)
        del frames
    return rows


_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from focuscam.measures import MEASURES, measure
t1 = time.perf_counter()
measure(np.zeros((16, 16), np.uint8), "lapv")
t2 = time.perf_counter()
if sys.argv[1] == "all":
    for dt in (np.uint8, np.uint16, np.float32):
        for shape in ((16, 16), (16, 16, 3)):
            for name in MEASURES:
                measure(np.ones(shape, dt), name)
                measure(np.ones(shape, dt), name, bin=2)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_lapv_s": t2 - t1, "all_s": t3 - t1}))
"""


def _cache_state(folder: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _probe(cache_dir: Path, mode: str) -> tuple[dict, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"compile probe failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout), wall


def bench_compile(quick: bool = False) -> dict:
    """First-call compile time (empty NUMBA_CACHE_DIR) and the start-up of a second process."""
    mode = "lapv" if quick else "all"
    with tempfile.TemporaryDirectory(prefix="focuscam-numba-") as tmp:
        cache = Path(tmp)
        cold, cold_wall = _probe(cache, mode)
        before = _cache_state(cache)
        warm, warm_wall = _probe(cache, mode)
        after = _cache_state(cache)
    return {
        "kernels": mode,
        "cold_first_lapv_s": cold["first_lapv_s"],
        "cold_all_s": cold["all_s"],
        "cold_process_s": cold_wall,
        "warm_first_lapv_s": warm["first_lapv_s"],
        "warm_all_s": warm["all_s"],
        "warm_import_s": warm["import_s"],
        "warm_process_s": warm_wall,
        "cache_files": len(after),
        "recompiled": before != after,
    }


def ratio_key(label: str, kind: str, quantity: str) -> str:
    """The ``--json`` key of one ratio, e.g. ``1920x1080_u8_gray_full_lapv_over_floor``."""
    return f"{label.replace(' ', '_')}_{kind}_{quantity}".lower()


def ratios(rows: list[dict]) -> dict[str, float]:
    """Every ratio of every row under its own key (see :func:`ratio_key`)."""
    out = {}
    for row in rows:
        for quantity, value in row.items():
            if "_over_" in quantity:
                out[ratio_key(row["frame"], row["roi"], quantity)] = value
    return out


def _target(key: str, text: str, value, ok: bool, op: str | None = None, limit=None) -> dict:
    return {"key": key, "target": text, "value": value, "op": op, "limit": limit, "pass": bool(ok)}


def check_targets(rows: list[dict], compile_info: dict | None, startup: dict | None = None) -> list[dict]:
    """Pass/fail of every target, as ratios from the same run."""
    results = []
    for label, kind, quantity, op, limit in TARGETS:
        row = next((r for r in rows if r["frame"] == label and r["roi"] == kind), None)
        if row is None:
            continue
        value = row[quantity]
        ok = value >= limit if op == ">=" else value <= limit
        key = ratio_key(label, kind, quantity)
        results.append(_target(key, f"{label} {kind}: {quantity} {op} {limit:g}", value, ok, op, limit))
    if compile_info is not None:
        results.append(
            _target(
                "second_process_recompiles",
                "second process does not recompile",
                compile_info["recompiled"],
                not compile_info["recompiled"],
            )
        )
    if startup is not None:
        cpu = startup["select_cpu_s"]
        results.append(
            _target(
                "select_cpu_s",
                f"warm focuscam select (5 x 320x240) CPU <= {SELECT_CPU_S:g} s",
                cpu,
                cpu <= SELECT_CPU_S,
                "<=",
                SELECT_CPU_S,
            )
        )
        heavy = startup["help_heavy_imports"]
        results.append(
            _target("help_heavy_imports", "focuscam --help imports no numpy/numba/cv2", heavy, not heavy)
        )
    return results


def run_benchmark(quick: bool = False, compile_probe: bool = True, progress=None) -> dict:
    """The whole benchmark as one JSON-ready dict."""
    import cv2
    import numba

    rows = bench_frames(quick=quick, progress=progress)
    if progress and compile_probe:
        progress("compile probes (subprocesses)")
    compile_info = bench_compile(quick=quick) if compile_probe else None
    startup = None
    if compile_probe:
        from .bench_startup import bench_startup

        if progress:
            progress("start-up probes (subprocesses)")
        startup = bench_startup(repeats=2 if quick else 5)
    targets = check_targets(rows, compile_info, startup)
    return {
        "quick": quick,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "opencv": cv2.__version__,
        },
        "rows": rows,
        "ratios": ratios(rows),
        "compile": compile_info,
        "startup": startup,
        "targets": targets,
        "targets_by_key": {t["key"]: ("PASS" if t["pass"] else "FAIL") for t in targets},
        "all_targets_pass": all(t["pass"] for t in targets),
    }


def format_table(result: dict) -> str:
    """Markdown tables of a :func:`run_benchmark` result."""
    rows = result["rows"]
    others = ["glvn", *OTHER_MEASURES]
    lines = [
        "| frame | ROI | lapv ms | cv ref ms | cv fast ms | floor ms | ref/lapv | fast/lapv | lapv/floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ms = r["ms"]
        lines.append(
            f"| {r['frame']} | {r['roi']} | {ms['lapv']:.3f} | {ms['cv_ref']:.3f} | {ms['cv_fast']:.3f} | "
            f"{ms['floor']:.3f} | {r['ref_over_lapv']:.1f} | {r['fast_over_lapv']:.1f} | "
            f"{r['lapv_over_floor']:.2f} |"
        )
    lines += ["", "| frame | ROI | " + " | ".join(f"{k} ms" for k in others) + " |"]
    lines.append("|---|---|" + "---|" * len(others))
    for r in rows:
        lines.append(
            f"| {r['frame']} | {r['roi']} | " + " | ".join(f"{r['ms'][k]:.3f}" for k in others) + " |"
        )
    lines += ["", "Fastest OpenCV formulation / focuscam (higher = focuscam faster):", ""]
    lines += [
        "| frame | ROI | " + " | ".join(["lapv", *others]) + " |",
        "|---|---|" + "---|" * (len(others) + 1),
    ]
    for r in rows:
        cells = " | ".join(f"{r[f'cv_over_{k}']:.2f}" for k in ["lapv", *others])
        lines.append(f"| {r['frame']} | {r['roi']} | {cells} |")
    st = result.get("startup")
    if st is not None:
        lines += [
            "",
            f"Start-up (process CPU, median): warm `focuscam select` of 5 x 320x240 "
            f"{st['select_cpu_s']:.2f} s; `focuscam --help` {st['help_cpu_s']:.2f} s, heavy imports: "
            f"{', '.join(st['help_heavy_imports']) or 'none'}.",
        ]
    c = result["compile"]
    if c is not None:
        lines += [
            "",
            f"Compile ({c['kernels']} kernels, empty NUMBA_CACHE_DIR): first lapv call "
            f"{c['cold_first_lapv_s']:.2f} s, all {c['cold_all_s']:.2f} s. Second process, warm cache: "
            f"import {c['warm_import_s']:.2f} s, first lapv call {c['warm_first_lapv_s'] * 1e3:.1f} ms, "
            f"all {c['warm_all_s']:.2f} s, whole process {c['warm_process_s']:.2f} s; "
            f"recompiled: {'yes' if c['recompiled'] else 'no'}.",
        ]
    lines += ["", "Targets:"]
    for t in result["targets"]:
        value = f"{t['value']:.2f}" if isinstance(t["value"], float) else t["value"]
        lines.append(f"- {'PASS' if t['pass'] else 'FAIL'} {t['target']} (measured {value})")
    return "\n".join(lines)
