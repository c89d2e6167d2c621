"""Benchmark archive-scale plane selection: stacks per second, serial loop vs Dask workers.

An archive of ``--stacks`` stack folders (focuscam-stack/1, PNG frames, like recordings and
``focuscam synth``) is generated in a temporary folder: ``--distinct`` synthetic stacks
(:func:`focuscam.synth.render_planes`) copied until there are enough. Then, per round and
interleaved:

- ``serial``: :func:`focuscam.select_many` with no client: the plain loop in this process;
- ``workers=1`` and ``workers=2``: the same stacks on a ``LocalCluster`` of that many worker
  processes (:class:`focuscam.batch.local_client`, what ``select --workers N`` starts). The
  cluster is started before the clock starts and its start-up is reported separately; the
  first task of each worker (imports, numba cache load) is paid in a warm-up batch.

It also splits one stack's serial CPU time into decoding (reading every frame: PNG decode) and
computing (``select_plane`` on the decoded frames), to say whether the batch is decode- or
compute-bound. Frames come from the page cache (the archive was just written), so "decode" is
PNG decoding, not disk reads.

Usage: python benchmarks/bench_batch.py [--stacks N] [--planes P] [--size WxH] [--rounds R] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from focuscam.batch import local_client, select_many
from focuscam.select import select_plane
from focuscam.stacks import Stack, load_stack, save_stack
from focuscam.synth import SynthParams, render_planes


def make_archive(root: Path, stacks: int, distinct: int, planes: int, size: tuple[int, int]) -> list[str]:
    w, h = size
    originals = []
    for k in range(distinct):
        params = SynthParams(
            kind=("target", "cells")[k % 2], color=False, planes=planes, width=w, height=h, seed=k
        )
        frames, z, _ = render_planes(params)
        originals.append(save_stack(root / f"src{k}", frames, z, z_unit="um"))
    paths = []
    for i in range(stacks):
        dst = root / "plate" / f"s{i:04d}"
        shutil.copytree(originals[i % distinct], dst)
        paths.append(str(dst))
    return paths


def timed_batch(paths: list[str], client=None) -> float:
    t0 = time.monotonic()
    n = sum(1 for r in select_many(paths, client=client) if r.error is None)
    dt = time.monotonic() - t0
    assert n == len(paths), f"only {n} of {len(paths)} stacks were selected"
    return dt


def decode_compute_split(path: str, repeats: int = 5) -> tuple[float, float]:
    """Median CPU seconds of this process to decode every frame of one stack, and to select on
    the decoded frames (CPU time, not wall time: it does not grow when other processes share
    the cores)."""
    dec, comp = [], []
    for _ in range(repeats):
        t0 = time.process_time()
        stack = load_stack(path)
        frames = [stack.image(i).copy() for i in range(len(stack))]
        t1 = time.process_time()
        select_plane(Stack.from_frames(frames, stack.z, z_unit=stack.z_unit))
        t2 = time.process_time()
        dec.append(t1 - t0)
        comp.append(t2 - t1)
    return statistics.median(dec), statistics.median(comp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stacks", type=int, default=64)
    ap.add_argument("--distinct", type=int, default=8)
    ap.add_argument("--planes", type=int, default=21)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="focuscam-bench-batch-") as tmp:
        paths = make_archive(Path(tmp), args.stacks, args.distinct, args.planes, size)  # type: ignore[arg-type]
        decode_s, compute_s = decode_compute_split(paths[0])
        timed_batch(paths[: args.distinct])  # serial warm-up: numba cache, OpenCV
        times: dict[str, list[float]] = {"serial": [], "workers=1": [], "workers=2": []}
        startup: dict[str, float] = {}
        clusters = {}
        try:
            for n in (1, 2):
                t0 = time.monotonic()
                ctx = local_client(n)
                client = ctx.__enter__()
                startup[f"workers={n}"] = time.monotonic() - t0
                clusters[n] = (ctx, client)
                timed_batch(paths[: 4 * n], client)  # every worker's first task: imports, numba load
            for _ in range(args.rounds):
                times["serial"].append(timed_batch(paths))
                for n in (1, 2):
                    times[f"workers={n}"].append(timed_batch(paths, clusters[n][1]))
        finally:
            for ctx, _ in clusters.values():
                ctx.__exit__(None, None, None)
    rates = {k: args.stacks / statistics.median(v) for k, v in times.items()}
    report = {
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "stacks": args.stacks,
        "planes": args.planes,
        "size": args.size,
        "stacks_per_s": {k: round(v, 2) for k, v in rates.items()},
        "speedup_vs_serial": {k: round(v / rates["serial"], 2) for k, v in rates.items()},
        "cluster_startup_s": {k: round(v, 2) for k, v in startup.items()},
        "one_stack_decode_cpu_ms": round(1000 * decode_s, 1),
        "one_stack_compute_cpu_ms": round(1000 * compute_s, 1),
        "decode_share": round(decode_s / (decode_s + compute_s), 2),
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['machine']}, load average {report['load_average']}")
    what = f"{args.stacks} stacks of {args.planes} planes {args.size} u16 gray PNG"
    print(f"{what}, {args.rounds} rounds (median)")
    print("| run | stacks/s | vs serial | cluster start s |")
    print("|---|---|---|---|")
    for k, v in rates.items():
        print(f"| {k} | {v:.1f} | {v / rates['serial']:.2f}x | {startup.get(k, 0.0):.1f} |")
    print(
        f"one stack, CPU time: decode {report['one_stack_decode_cpu_ms']} ms, "
        f"compute {report['one_stack_compute_cpu_ms']} ms "
        f"(decode share {report['decode_share']:.0%})"
    )


if __name__ == "__main__":
    main()
