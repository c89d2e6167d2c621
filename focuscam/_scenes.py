"""The sharp scenes of :mod:`focuscam.synth`: a resolution-target-like chart or cell-like blobs.

:func:`make_scene` renders one as radiance in [0, 1] from a seed (the layout's own generator),
before any defocus or sensor noise.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError

__all__ = ["KINDS", "make_scene"]

#: Scene kinds.
KINDS = ("target", "cells")


def _target(h: int, w: int, rng: np.random.Generator, color: bool) -> np.ndarray:
    """A resolution-chart-like scene: bar groups of shrinking period, a Siemens star, rings, text."""
    import cv2

    ch = 3 if color else 1
    bg = np.array([0.86, 0.88, 0.9][:ch] if color else [0.85], np.float32)
    img = np.empty((h, w, ch), np.float32)
    img[:] = bg
    ink = [(0.08, 0.08, 0.1), (0.55, 0.15, 0.1), (0.1, 0.35, 0.6), (0.15, 0.45, 0.15)]  # BGR
    s = min(h, w)

    def colour(k: int) -> tuple[float, ...]:
        c = ink[k % len(ink)] if color else (0.06 + 0.1 * (k % 3),)
        return tuple(float(v) for v in c)

    # bar groups (3 bars, horizontal and vertical) with periods from coarse to fine
    periods = [max(2, round(s / d)) for d in (12, 17, 24, 34, 48, 68, 96)]
    x = int(0.04 * w)
    y = int(0.06 * h)
    row_h = 0
    for k, p in enumerate(periods):
        bar = max(1, p // 2)
        gw = 5 * bar
        if x + 2 * gw + 3 * bar > w * 0.62:
            x = int(0.04 * w)
            y += row_h + max(4, bar * 2)
            row_h = 0
        c = colour(k)
        length = 5 * bar
        for b in range(3):
            cv2.rectangle(img, (x + 2 * b * bar, y), (x + 2 * b * bar + bar - 1, y + length - 1), c, -1)
            yy = y + 2 * b * bar
            cv2.rectangle(img, (x + gw + bar, yy), (x + gw + bar + length - 1, yy + bar - 1), c, -1)
        x += 2 * gw + 3 * bar
        row_h = max(row_h, length)
    # a Siemens star
    cx, cy, r = int(0.8 * w), int(0.3 * h), int(0.17 * s)
    spokes = 36
    for k in range(0, spokes, 2):
        a0, a1 = 2 * math.pi * k / spokes, 2 * math.pi * (k + 1) / spokes
        pts = [(cx, cy)]
        pts += [(int(cx + r * math.cos(a)), int(cy + r * math.sin(a))) for a in np.linspace(a0, a1, 6)]
        cv2.fillPoly(img, [np.array(pts, np.int32)], colour(0), cv2.LINE_AA)
    # concentric rings and a checkerboard patch at random places in the lower half
    rx, ry = int(rng.uniform(0.15, 0.35) * w), int(rng.uniform(0.62, 0.8) * h)
    for k, rad in enumerate(range(int(0.14 * s), 2, -max(2, s // 60))):
        cv2.circle(
            img, (rx, ry), rad, colour(k) if k % 2 == 0 else tuple(float(v) for v in bg), -1, cv2.LINE_AA
        )
    sq = max(2, s // 40)
    bx, by = int(rng.uniform(0.55, 0.7) * w), int(rng.uniform(0.62, 0.75) * h)
    for i in range(6):
        for j in range(6):
            if (i + j) % 2 == 0:
                cv2.rectangle(
                    img,
                    (bx + j * sq, by + i * sq),
                    (bx + (j + 1) * sq - 1, by + (i + 1) * sq - 1),
                    colour(2),
                    -1,
                )
    # a line of text and a few random fine dots (dust) for texture everywhere
    scale = s / 480.0
    mask = np.zeros((h, w), np.uint8)  # OpenCV draws text on 8-bit images only
    thickness = max(1, int(2 * scale))
    cv2.putText(mask, "FOCUSCAM 1951", (int(0.05 * w), int(0.95 * h)), cv2.FONT_HERSHEY_SIMPLEX, 0.9 * scale,
                255, thickness, cv2.LINE_AA)  # fmt: skip
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    img = img * (1 - alpha) + np.array(colour(1), np.float32) * alpha
    for _ in range(int(h * w / 2500)):
        px, py = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.circle(img, (px, py), int(rng.integers(1, 3)), colour(int(rng.integers(0, 4))), -1, cv2.LINE_AA)
    return img


def _cells(h: int, w: int, rng: np.random.Generator, color: bool) -> np.ndarray:
    """Cell-like blobs: ellipses with a brighter nucleus and fine granules.

    Gray: fluorescence-like (bright cells on a dark background). Colour: stained-slide-like
    (purple and pink cells on a light background).
    """
    import cv2

    ch = 3 if color else 1
    img = np.zeros((h, w, ch), np.float32)
    s = min(h, w)
    n = max(6, int(h * w / (s * s / 14)))
    density = np.zeros((h, w), np.float32)
    nuclei = np.zeros((h, w), np.float32)
    for _ in range(n):
        cx, cy = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        a = float(rng.uniform(0.05, 0.11) * s)
        b = a * float(rng.uniform(0.55, 1.0))
        ang = float(rng.uniform(0, 180))
        cv2.ellipse(
            density, (cx, cy), (int(a), int(b)), ang, 0, 360, float(rng.uniform(0.35, 0.6)), -1, cv2.LINE_AA
        )
        cv2.ellipse(density, (cx, cy), (int(a), int(b)), ang, 0, 360, 0.9, max(1, s // 200), cv2.LINE_AA)
        nx, ny = cx + int(rng.uniform(-0.3, 0.3) * b), cy + int(rng.uniform(-0.3, 0.3) * b)
        cv2.ellipse(nuclei, (nx, ny), (int(0.38 * b), int(0.3 * b)), ang, 0, 360, 1.0, -1, cv2.LINE_AA)
        for _ in range(int(a * b / 12)):
            gx = cx + int(rng.normal(0, 0.45 * a))
            gy = cy + int(rng.normal(0, 0.45 * b))
            cv2.circle(density, (gx, gy), 1, float(rng.uniform(0.7, 1.0)), -1, cv2.LINE_AA)
    density = np.clip(density, 0, 1)
    if color:
        bg = np.array([0.93, 0.9, 0.95], np.float32)  # BGR, slightly pink paper
        cyto = np.array([0.75, 0.45, 0.8], np.float32)  # pink
        nucl = np.array([0.55, 0.2, 0.35], np.float32)  # purple
        img[:] = bg
        img = img * (1 - density[..., None]) + cyto * density[..., None]
        img = img * (1 - nuclei[..., None] * 0.8) + nucl * nuclei[..., None] * 0.8
    else:
        img[..., 0] = 0.03 + 0.5 * density + 0.4 * nuclei * (density > 0)
    return np.clip(img, 0, 1).astype(np.float32)


def make_scene(kind: str, width: int, height: int, *, color: bool, seed: int) -> np.ndarray:
    """Render the sharp scene as radiance in [0, 1], float32, shape ``(H, W, 3)`` or ``(H, W, 1)``.

    Parameters
    ----------
    kind : {"target", "cells"}
    width, height : int
        Pixels.
    color : bool
        Three BGR channels (True) or one gray channel.
    seed : int
        Seed of the layout.
    """
    import cv2

    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is unknown: use 'target' or 'cells'")
    rng = np.random.default_rng([seed, 1])
    scene = (_target if kind == "target" else _cells)(height, width, rng, color)
    # the optics resolve a little less than one pixel even in focus
    scene = cv2.GaussianBlur(scene, (0, 0), 0.5)
    if scene.ndim == 2:
        scene = scene[..., None]
    return scene.astype(np.float32)
