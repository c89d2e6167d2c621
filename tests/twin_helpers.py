"""Synthetic z-sweep stacks written as real focuscam-stack/1 folders, for twin and autofocus tests."""

from __future__ import annotations

import cv2
import numpy as np

from focuscam.stacks import save_stack


def defocus_stack(path, *, planes=41, lo=0.0, hi=40.0, focus=23.0, unit="um", seed=0, noise=0.0):
    """A textured scene blurred in proportion to |z - focus|; truth = focus (in ``unit``)."""
    rng = np.random.default_rng(seed)
    scene = rng.uniform(0, 255, (96, 96)).astype(np.float32)
    scene = cv2.GaussianBlur(scene, (0, 0), 1.0)
    z = np.linspace(lo, hi, planes)
    step = (hi - lo) / (planes - 1)
    frames = []
    for zi in z:
        sigma = 0.4 + 0.6 * abs(zi - focus) / step
        img = cv2.GaussianBlur(scene, (0, 0), sigma)
        if noise:
            img = img + rng.normal(0, noise, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    save_stack(
        path,
        frames,
        z=z,
        z_unit=unit,
        kind="z-sweep",
        name="synthetic",
        truth={"z": float(focus), "tolerance": float(step), "basis": "synthetic blur"},
    )
    return path


def index_stack(path, z, unit="um"):
    """Plane i is filled with the value i + 1 (so a frame's pixels tell which plane it shows)."""
    frames = [np.full((8, 8), i + 1, np.uint8) for i in range(len(z))]
    save_stack(path, frames, z=z, z_unit=unit, kind="z-sweep", name="index")
    return path
