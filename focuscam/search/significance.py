"""Is a peak in sparse, irregular samples real? A peak-model fit and its signal-to-noise ratio.

Adaptive strategies sample densely near the peak and sparsely elsewhere, so the noise of the
curve cannot be read from neighbour differences (they mix noise and curvature). Instead a peak
model ``score = b + a * g((z - m) / w)`` is fitted by least squares on a grid of centres ``m`` and
widths ``w`` (``a`` and ``b`` solved linearly for each), for three shapes ``g`` (Gaussian,
Lorentzian and a cusp ``exp(-|u|)``, as sharp focus peaks are), and the residual
standard deviation is the noise. The peak is significant when its height (the rise of the
model across the samples) is many noise standard deviations (``snr = height / noise``). A
narrow model that explains a single sample is not allowed: the model must cover at least three
samples within ``2 w`` of its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PeakSignificance", "peak_significance"]


@dataclass(frozen=True)
class PeakSignificance:
    """The model fit: centre ``z`` (um), ``width`` (um), ``height``, ``noise`` and ``snr``."""

    z: float
    width: float
    height: float
    noise: float
    snr: float


def peak_significance(
    z, scores, *, min_width: float, centres: int = 96, widths: int = 24
) -> PeakSignificance:
    """Fit the peak model to ``(z, scores)`` and return its signal-to-noise ratio.

    Parameters
    ----------
    z, scores : array_like
        Sample positions (um) and scores, any order, at least 4 samples.
    min_width : float
        The narrowest peak (um) the model may use, e.g. the step resolution.
    """
    z = np.asarray(z, dtype=float)
    s = np.asarray(scores, dtype=float)
    span = float(np.ptp(z)) if z.size else 0.0
    spread = float(np.ptp(s)) if s.size else 0.0
    if z.size < 4 or span <= 0 or spread <= 1e-12 * max(1.0, float(np.max(np.abs(s)))):
        return PeakSignificance(float(z[np.argmax(s)]) if z.size else float("nan"), 0.0, 0.0, 0.0, 0.0)
    m = np.unique(np.concatenate([np.linspace(z.min(), z.max(), centres), z]))
    w = np.geomspace(max(min_width, span / 400), span, widths)
    d = z[None, None, :] - m[:, None, None]  # (M, 1, N)
    u = np.abs(d) / w[None, :, None]  # (M, W, N)
    support = (u <= 2.0).sum(axis=2) >= 3
    n = z.size
    sm = s.mean()
    sst = float(((s - sm) ** 2).sum())
    best = (np.inf, 0, 0, 0, None, None)
    # three peak shapes: Gaussian, Lorentzian and a cusp (sharp focus peaks are cusp-like)
    for g in (np.exp(-0.5 * u**2), 1.0 / (1.0 + u**2), np.exp(-u)):
        gm = g.mean(axis=2)
        gc = g - gm[..., None]
        var_g = (gc**2).sum(axis=2)
        cov = (gc * (s - sm)[None, None, :]).sum(axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(var_g > 1e-12, cov / var_g, 0.0)
        sse = np.where(support & (a > 0), sst - a * cov, np.inf)
        i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
        if sse[i, j] < best[0]:
            best = (float(sse[i, j]), i, j, float(a[i, j]), g[i, j], None)
    if not np.isfinite(best[0]):
        return PeakSignificance(float(z[np.argmax(s)]), 0.0, 0.0, float(np.sqrt(sst / max(n - 1, 1))), 0.0)
    sse_best, i, j, a_best, g_best, _ = best
    noise = float(np.sqrt(max(sse_best, 0.0) / max(n - 4, 1)))
    # the height the samples see (a wide model can have a large amplitude but a small rise)
    height = float(a_best * (g_best.max() - g_best.min()))
    # a floor on the noise: float rounding of a perfect model must not give an infinite ratio
    noise = max(noise, 1e-9 * max(abs(height), 1e-300))
    return PeakSignificance(float(m[i]), float(w[j]), height, noise, height / noise)
