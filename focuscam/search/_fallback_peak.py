"""A stand-in for :mod:`focuscam.search.peak` until that module lands (same call signature)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class PeakFit:
    index: int
    z: float | None
    state: str
    confidence: float
    reason: str
    at_edge: bool

    def to_dict(self) -> dict:
        return asdict(self)


def fit_peak(z, scores, *, mode: str = "max") -> PeakFit:
    z = np.asarray(z, dtype=float)
    s = np.asarray(scores, dtype=float)
    n = z.size
    if n < 3:
        i = int(np.argmax(s)) if n else 0
        return PeakFit(i, float(z[i]) if n else None, "failed", 0.0, "fewer than 3 samples", True)
    if mode == "brightfield":
        hi_l = np.maximum.accumulate(s)
        hi_r = np.maximum.accumulate(s[::-1])[::-1]
        depth = np.minimum(hi_l, hi_r) - s
        i = int(np.argmax(depth))
        height = float(depth[i])
        sign = -1.0
    else:
        i = int(np.argmax(s))
        height = float(s[i] - np.median(s))
        sign = 1.0
    # noise: residuals of linear interpolation between neighbours, away from the peak
    r = np.abs(
        s[1:-1]
        - np.interp(z[1:-1], z[[0, -1]], s[[0, -1]]) * 0
        - (s[:-2] + (s[2:] - s[:-2]) * (z[1:-1] - z[:-2]) / (z[2:] - z[:-2]))
    )
    far = np.abs(z[1:-1] - z[i]) > 0.25 * float(np.ptp(z))
    noise = float(np.median(r[far])) / 0.6745 / np.sqrt(1.5) if far.any() else 0.0
    spread = float(np.ptp(s))
    zi = float(z[i])
    if 0 < i < n - 1:
        x = z[i - 1 : i + 2]
        y = sign * s[i - 1 : i + 2]
        a, b, _ = np.polyfit(x, y, 2)
        if a < 0:
            zi = float(np.clip(-b / (2 * a), x[0], x[2]))
    edge = i in (0, n - 1)
    if spread <= 1e-12 * max(1.0, abs(float(s.max()))):
        return PeakFit(i, zi, "failed", 0.0, "flat curve", edge)
    snr = height / (noise + 1e-12 * spread)
    confidence = float(np.clip(snr / 10.0, 0.0, 1.0))
    if edge:
        return PeakFit(i, zi, "failed", confidence, "peak at the edge of the range", edge)
    return PeakFit(i, zi, "focused", confidence, "peak found", edge)
