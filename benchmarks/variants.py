"""The shared stacks with a truth, changed the way another microscope would record them.

The engine is judged on recordings it has never seen. This benchmark makes new stacks from the
real ones in ``../shared/stacks`` (into a temporary folder; never into the repository) and runs
them through the same harness as ``anchors.py``, counting for each row the runs that are right
(focused within the tolerance), **wrong** (focused outside it: the costly kind) and failed
(``failed``: the honest kind). The variants:

- ``every2``, ``every3``: every second plane, every third (a coarser z step);
- ``subset``: a third of the planes, drawn at random (irregular spacing; at least 8);
- ``half``: every frame at half size (another camera, or binning on the sensor);
- ``crop``: the middle ninth of every frame (a small field, fewer features);
- ``dim``: 8-bit frames with about 30 photons at the brightest pixel (shot noise, low light);
- ``flipz``: the z axis reversed (a drive that moves the other way).

The truth stays the recorded one (negated for ``flipz``); its tolerance becomes at least 0.6 of
the new median plane spacing (the twin shows the nearest plane, so a coarser stack cannot be
answered more finely than about half its spacing).

Usage: python benchmarks/variants.py [--strategy NAME ...] [--starts N] [--variant NAME ...]
       [--stack NAME ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anchors  # registers the anchor ports as strategies

SHARED = Path(os.environ.get("FOCUSCAM_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "stacks"
STACKS = ("dfnn_mitochondria", "fpd_webcam_rep1", "maars_bf_yeast", "udaf_metal_iy000")
VARIANTS = ("every2", "every3", "subset", "half", "crop", "dim", "flipz")


def _crop(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    return np.ascontiguousarray(a[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3])


def _dim(a: np.ndarray, rng: np.random.Generator, photons: float = 30.0) -> np.ndarray:
    mean = a.astype(np.float64) * (photons / max(float(a.max()), 1.0))
    return np.clip(rng.poisson(mean) * (255.0 / (2.0 * photons)), 0, 255).astype(np.uint8)


def variant(name: str, frames: list, z: np.ndarray, seed: int) -> tuple[list, np.ndarray, float]:
    """``(frames, z, truth_sign)`` of variant ``name`` of the planes ``frames`` at ``z``."""
    rng = np.random.default_rng(seed)
    order = np.argsort(z, kind="stable")
    frames, z = [frames[i] for i in order], z[order]
    n = len(frames)
    if name == "every2":
        keep = np.arange(0, n, 2)
    elif name == "every3":
        keep = np.arange(1, n, 3)
    elif name == "subset":
        keep = np.sort(rng.choice(n, min(n, max(8, n // 3)), replace=False))
    else:
        keep = np.arange(n)
    frames, z = [frames[i] for i in keep], z[keep]
    if name == "half":
        half = [(a.shape[1] // 2, a.shape[0] // 2) for a in frames]
        frames = [cv2.resize(a, wh, interpolation=cv2.INTER_AREA) for a, wh in zip(frames, half, strict=True)]
    elif name == "crop":
        frames = [_crop(a) for a in frames]
    elif name == "dim":
        frames = [_dim(a, rng) for a in frames]
    sign = -1.0 if name == "flipz" else 1.0
    return frames, sign * z, sign


def make(out: Path, stack_name: str, name: str) -> Path:
    """Write variant ``name`` of shared stack ``stack_name`` into ``out``; return its folder."""
    from focuscam.stacks import load_stack, save_stack

    st = load_stack(SHARED / stack_name)
    frames = [st.image(i) for i in range(len(st))]
    z = np.asarray(st.z, dtype=float)
    frames, z, sign = variant(name, frames, z, seed=len(stack_name))
    spacing = float(np.median(np.diff(np.sort(z))))
    truth = {
        "z": sign * float(st.truth["z"]),
        "tolerance": max(float(st.truth["tolerance"]), 0.6 * spacing),
        "basis": f"{st.truth.get('basis', 'recorded')}; {name} variant",
    }
    extra = {"modality": st.modality} if getattr(st, "modality", None) else None
    return save_stack(
        out / f"{stack_name}-{name}",
        frames,
        [float(v) for v in z],
        z_unit=st.z_unit,
        kind="z-sweep",
        name=f"{stack_name}-{name}",
        truth=truth,
        extra=extra,
    )


def main(argv: list[str] | None = None) -> int:
    from focuscam.evaluate import evaluate_stack, supports
    from focuscam.stacks import load_stack

    parser = argparse.ArgumentParser(description="the shared stacks, changed as another rig records them")
    parser.add_argument("--strategy", action="append", help="strategies (default: model and the anchors)")
    parser.add_argument("--starts", type=int, default=8, help="start positions per stack (default 8)")
    parser.add_argument("--variant", action="append", choices=VARIANTS, help="variants (default: all)")
    parser.add_argument("--stack", action="append", choices=STACKS, help="shared stacks (default: all)")
    args = parser.parse_args(argv)
    names = args.strategy or ["model", *anchors.ANCHORS]
    out = Path(tempfile.mkdtemp(prefix="focuscam-variants-"))
    totals = {n: [0, 0, 0, 0] for n in names}  # right, wrong, failed, runs
    try:
        for stack_name in args.stack or STACKS:
            for name in args.variant or VARIANTS:
                stack = load_stack(make(out, stack_name, name))
                cells = []
                for strategy in names:
                    if not supports(stack, strategy):
                        cells.append(f"{strategy} -")
                        continue
                    r = evaluate_stack(stack, strategy, starts=args.starts)
                    wrong = r.wrong_focused
                    failed = len(r.failures) - wrong
                    right = r.runs - len(r.failures)
                    t = totals[strategy]
                    t[0], t[1], t[2], t[3] = t[0] + right, t[1] + wrong, t[2] + failed, t[3] + r.runs
                    cells.append(f"{strategy} {right}/{wrong}/{failed} {r.frames:.1f} fr")
                print(f"{stack.name:30s} | " + " | ".join(cells), flush=True)
        print("right/wrong/failed runs:")
        for strategy, (right, wrong, failed, runs) in totals.items():
            print(f"TOTAL {strategy}: {right} right, {wrong} wrong, {failed} failed of {runs}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
