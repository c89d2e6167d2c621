"""Is a peak in sparse, irregular samples real? A peak-model fit and its signal-to-noise ratio.

Adaptive strategies sample densely near the peak and sparsely elsewhere, so the noise of the
curve cannot be read from neighbour differences (they mix noise and curvature). Instead a peak
model, ``score = b + a * exp(-(z - m)**2 / (2 w**2))``, is fitted by least squares on a grid of
centres ``m`` and widths ``w`` (``a`` and ``b`` solved linearly for each), and the residual
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
    m = np.linspace(z.min(), z.max(), centres)
    w = np.geomspace(max(min_width, span / 400), span, widths)
    d = z[None, None, :] - m[:, None, None]  # (M, 1, N)
    g = np.exp(-0.5 * (d / w[None, :, None]) ** 2)  # (M, W, N)
    support = (np.abs(d) <= 2 * w[None, :, None]).sum(axis=2) >= 3
    n = z.size
    gm = g.mean(axis=2)
    sm = s.mean()
    gc = g - gm[..., None]
    var_g = (gc**2).sum(axis=2)
    cov = (gc * (s - sm)[None, None, :]).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(var_g > 1e-12, cov / var_g, 0.0)
    sst = float(((s - sm) ** 2).sum())
    sse = sst - a * cov
    ok = support & (a > 0)
    if not ok.any():
        return PeakSignificance(float(z[np.argmax(s)]), 0.0, 0.0, float(np.sqrt(sst / max(n - 1, 1))), 0.0)
    sse = np.where(ok, sse, np.inf)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)
    noise = float(np.sqrt(max(sse[i, j], 0.0) / max(n - 4, 1)))
    # the height the samples see (a wide model can have a large ``a`` but a small rise)
    gij = g[i, j]
    height = float(a[i, j] * (gij.max() - gij.min()))
    # a floor on the noise: float rounding of a perfect model must not give an infinite ratio
    noise = max(noise, 1e-9 * max(abs(height), 1e-300))
    return PeakSignificance(float(m[i]), float(w[j]), height, noise, height / noise)
