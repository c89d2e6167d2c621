"""The default strategy beside the anchor ports on synthetic stacks made for hard conditions.

    python benchmarks/synthetic.py [--strategy NAME ...] [--starts N] [--seeds N]

Validation that is not tuned to the shared stacks: stacks are rendered into a temporary folder
(never into the repository) and every strategy runs through the same harness as
``benchmarks/anchors.py`` (:func:`focuscam.evaluate.evaluate_stack`). Per seed and scene kind
(``target``, ``cells``; 16-bit gray, 192x144 px):

- ``default``: 41 planes 1 um apart;
- ``sparse``: a few small features (``coverage=0.08``);
- ``dim``: low photon count on a strong background (``photons=150``, ``background=0.7``);
- ``coarse``: 13 planes 3 um apart (coarse compared with the depth of field);
- ``irregular``: 15 of 61 planes at irregular offsets (tolerance 0.75 median spacings);
- ``bleach``, ``bleach-rev``: the ``default`` planes with their brightness falling by e^-1.2
  from the first plane recorded to the last (bleaching; recorded upward, and downward), so that
  a far end can score higher than the coarse grid samples beside a narrow peak;
- ``flicker``: the ``default`` planes each scaled by 1 + 0.05 N(0, 1) (a lamp's or an
  auto-exposure's brightness from frame to frame);
- ``wide``: a depth of field five times the default's (``blur_per_um=0.12``; tolerance 2 um): a
  flat top several um wide;
- ``narrow``: a peak one or two planes wide (``blur_per_um=3``);
- ``edge``: the focus 17, 14 or 11 um from the centre of the 40 um window (seed 0, 1, 2);
- ``saturated``: the ``default`` planes three times brighter, clipped at white.

Two focal planes in one window, per seed: ``mix-two`` (0.75 x a ``target`` scene in focus at
-8 um + 0.25 x a ``cells`` scene in focus at +9 um, 41 planes) and ``mix-even`` (0.5 / 0.5);
the target's peak is the stronger one (about 14 and 4 times the other in ``lapv``), its focus
the truth (tolerance 1 um).

and brightfield stacks of a transparent phase object (transport of intensity: the image is
``1 - k * dz * laplacian(phase)``, blurred by the defocus ``dz``, with shot noise), whose
contrast is a minimum at focus between two maxima: ``bf-wide`` (maxima far from the focus,
41 planes 0.5 um apart) and ``bf-narrow`` (maxima 1.5 um from the focus, a dip narrower than
a coarse grid step).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anchors  # registers the anchor ports

W, H = 192, 144


def _blur(a: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (FFT, periodic) of ``a`` with ``sigma_px`` pixels."""
    fy = np.fft.fftfreq(a.shape[0])[:, None]
    fx = np.fft.fftfreq(a.shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fx**2 + fy**2))
    return np.real(np.fft.ifft2(np.fft.fft2(a) * kernel))


def _laplacian(a: np.ndarray) -> np.ndarray:
    return np.roll(a, 1, 0) + np.roll(a, -1, 0) + np.roll(a, 1, 1) + np.roll(a, -1, 1) - 4.0 * a


def brightfield_planes(seed: int, z_um: np.ndarray, blur_per_um: float) -> tuple[list, float]:
    """16-bit planes of a phase object at ``z_um`` (um) and its focus (um, drawn from ``seed``)."""
    rng = np.random.default_rng([seed, 11])
    phase = _blur(rng.normal(size=(H, W)), 3.0)
    lap = _laplacian(phase / phase.std())
    focus = round(float(rng.uniform(-0.25, 0.25) * z_um[-1]), 3)
    frames = []
    for z in z_um:
        d = z - focus
        img = _blur(1.0 - 0.15 * d * lap, 0.8 + blur_per_um * abs(d)) * 20000.0 + 2000.0
        frames.append(rng.poisson(np.clip(img, 0.0, None)).astype(np.uint16))
    return frames, focus


def scaled(frames: list, gains) -> list:
    """16-bit ``frames`` each times its gain, clipped at white."""
    return [np.clip(f * g, 0, 65535).astype(np.uint16) for f, g in zip(frames, gains, strict=True)]


def mixed(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """The 16-bit frame ``w * a + (1 - w) * b`` (two scenes at different depths in one field)."""
    return np.clip(w * a.astype(float) + (1.0 - w) * b, 0, 65535).astype(np.uint16)


def bleached(frames: list, upward: bool) -> list:
    """16-bit ``frames`` (in z order) dimmed by e^(-1.2 k / (n - 1)) for the k-th plane recorded,
    planes recorded upward (first z first) or downward."""
    n = len(frames)
    ranks = range(n) if upward else range(n - 1, -1, -1)
    return scaled(frames, [np.exp(-1.2 * k / (n - 1)) for k in ranks])


def make_stacks(out: Path, seeds: int) -> list[Path]:
    """Render every synthetic stack into ``out``; return their folders."""
    from focuscam.stacks import save_stack
    from focuscam.synth import SynthParams, render_planes

    paths = []

    def save(name, frames, z, focus, tol, modality=None):
        extra = {"modality": modality} if modality else None
        truth = {"z": float(focus), "tolerance": float(tol), "basis": "synthetic"}
        paths.append(
            save_stack(
                out / name, frames, z, z_unit="um", kind="z-sweep", name=name, truth=truth, extra=extra
            )
        )

    for seed in range(seeds):
        for kind in ("target", "cells"):
            base = {"kind": kind, "color": False, "width": W, "height": H, "seed": seed}
            cases = {
                "default": SynthParams(planes=41, **base),
                "sparse": SynthParams(planes=41, coverage=0.08, **base),
                "dim": SynthParams(planes=41, photons=150.0, background=0.7, **base),
                "coarse": SynthParams(planes=13, z_step=3.0, **base),
                "irregular": SynthParams(planes=61, **base),
                "wide": SynthParams(planes=41, blur_per_um=0.12, **base),
                "narrow": SynthParams(planes=41, blur_per_um=3.0, **base),
                "edge": SynthParams(planes=41, z_focus=-17.0 + 3.0 * seed, **base),
            }
            for tag, params in cases.items():
                frames, z, focus = render_planes(params)
                tol = 2.0 if tag == "wide" else params.z_step
                if tag == "irregular":
                    rng = np.random.default_rng([seed, 99])
                    keep = np.sort(rng.choice(len(z), 15, replace=False))
                    keep[0], keep[-1] = 0, len(z) - 1
                    frames, z = [frames[i] for i in keep], np.asarray(z)[keep]
                    tol = 0.75 * float(np.median(np.diff(z)))
                save(f"{kind}{seed}-{tag}", frames, z, focus, tol)
                if tag == "default":
                    for name, upward in (("bleach", True), ("bleach-rev", False)):
                        save(f"{kind}{seed}-{name}", bleached(frames, upward), z, focus, tol)
                    gain = 1.0 + 0.05 * np.random.default_rng([seed, 3]).normal(size=len(frames))
                    save(f"{kind}{seed}-flicker", scaled(frames, gain), z, focus, tol)
                    save(f"{kind}{seed}-saturated", scaled(frames, [3.0] * len(frames)), z, focus, tol)
        base = {"color": False, "width": W, "height": H, "seed": seed, "planes": 41}
        near, z, focus = render_planes(SynthParams(kind="target", z_focus=-8.0, **base))
        far, _, _ = render_planes(SynthParams(kind="cells", z_focus=9.0, **base))
        for tag, w in (("two", 0.75), ("even", 0.5)):
            frames = [mixed(a, b, w) for a, b in zip(near, far, strict=True)]
            save(f"mix{seed}-{tag}", frames, z, focus, 1.0)
        for tag, blur in (("bf-wide", 0.35), ("bf-narrow", 1.2)):
            z = (np.arange(41) - 20) * 0.5
            frames, focus = brightfield_planes(seed, z, blur)
            save(f"{tag}{seed}", frames, z, focus, 0.5, "brightfield")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Render the stacks, evaluate the strategies, print one line per stack and the totals."""
    from focuscam.evaluate import evaluate_stack
    from focuscam.stacks import load_stack

    parser = argparse.ArgumentParser(description="strategies on synthetic stacks for hard conditions")
    parser.add_argument("--strategy", action="append", help="strategies (default: model and the anchors)")
    parser.add_argument("--starts", type=int, default=8, help="start positions per stack (default 8)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per condition (default 3)")
    args = parser.parse_args(argv)
    names = args.strategy or ["model", *anchors.ANCHORS]
    out = Path(tempfile.mkdtemp(prefix="focuscam-synthetic-"))
    try:
        totals = {n: [0.0, 0, 0.0, 0.0] for n in names}
        paths = make_stacks(out, args.seeds)
        for path in paths:
            stack = load_stack(path)
            cells = []
            for name in names:
                r = evaluate_stack(stack, name, starts=args.starts)
                t = totals[name]
                t[0] += r.success_rate * r.runs
                t[1] += r.runs
                t[2] += r.frames
                t[3] += r.time_s
                cells.append(
                    f"{name} {r.success_rate * r.runs:.0f}/{r.runs} {r.frames:.2f} fr {r.time_s:.2f} s"
                )
            print(f"{stack.name:18s} | " + " | ".join(cells), flush=True)
        for name, (ok, runs, frames, time_s) in totals.items():
            print(
                f"TOTAL {name}: {ok:.0f}/{runs} runs succeed, mean {frames / len(paths):.2f} frames, "
                f"{time_s / len(paths):.2f} s"
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
