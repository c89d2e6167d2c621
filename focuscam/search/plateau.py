"""The flat-topped member of the significance rule's model family: a plateau with Gaussian shoulders.

A sample thicker than the depth of field (or an ROI with features at several depths) has a focus
curve with a flat top wider than the depth of field: each depth is sharp at its own position and
the measure, summed over the features, stays near its maximum while any of them is in focus. The
peak shapes of :mod:`focuscam.search.significance` (Gaussian, Lorentzian, cusp) fit such a curve
badly, their residuals count as noise, and a clear plateau then ends "peak not significant".

The plateau model is ``score = b + a * g(z)`` with

``g(z) = f(max(|z - m| - h, 0) / w)``,

a flat top of half-width ``h`` (um) around the centre ``m`` (um) with shoulders of scale ``w``
(um) shaped like the peak family's ``f`` (Gaussian ``exp(-u^2/2)``, Lorentzian ``1/(1+u^2)`` or
cusp ``exp(-u)``: the same discrete choice of shape the peak models make, so no parameter more).
At ``h = 0`` it is the peak model itself. It has ONE free parameter more
than the peak models (the half-width), and the rule counts it: its noise is
``sqrt(SSE / (n - p - 1))`` and its threshold uses ``d = n - p - 1`` degrees of freedom, so it is
only tried with ``n >= p + 3`` samples. And it must earn that parameter: it replaces the best
peak model only when an F test of the extra sum of squares says the flat top is real
(:func:`earns_its_parameter`, 1% level), its top is at least half as wide as its
shoulders' full width at half maximum (:func:`wide_top`), AND it stands higher above its noise
bound than the peak model does. Its focus is the centre of the plateau.

References
----------
.. [1] F. C. A. Groen, I. T. Young, G. Ligthart, "A comparison of different focus functions for
   use in autofocus algorithms", Cytometry 6(2), 81-91 (1985): focus curves and their
   unimodality, and the broadening of the curve by specimen thickness.
.. [2] N. R. Draper, H. Smith, "Applied Regression Analysis", 3rd ed., Wiley (1998), ch. 2 and
   24: residual variance on ``n - p`` degrees of freedom for a model with ``p`` fitted
   parameters, linear parameters solved exactly inside a grid over the non-linear ones, and the
   extra-sum-of-squares F test for nested models.
"""

from __future__ import annotations

import math

import numpy as np

from .significance import PeakSignificance, _baseline_free, _best

__all__ = [
    "PLATEAU",
    "SHOULDERS",
    "distinct_frames",
    "earns_its_parameter",
    "fit_plateau",
    "plateau_curve",
    "plateau_fwhm",
    "top_run",
    "wide_top",
]

#: The shape names of the plateau model start with this (then ``-`` and the shoulder's shape).
PLATEAU = "plateau"

#: The shoulder shapes ``f(u)``, ``u >= 0`` the distance beyond the top in shoulder scales.
SHOULDERS = {
    "gaussian": lambda u: np.exp(-0.5 * u**2),
    "lorentzian": lambda u: 1.0 / (1.0 + u**2),
    "cusp": lambda u: np.exp(-u),
}

#: Half maximum of each shoulder shape, in shoulder scales beyond the top.
_HALF = {"gaussian": math.sqrt(2.0 * math.log(2.0)), "lorentzian": 1.0, "cusp": math.log(2.0)}

_CENTRES = 48
_HALVES = 12
_WIDTHS = 10
_ROUNDS = 3


#: Upper 0.5% quantiles of Student's t for 1..30 degrees of freedom (two-sided 1%).
_T_995 = (
    63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169,
    3.106, 3.055, 3.012, 2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845,
    2.831, 2.819, 2.807, 2.797, 2.787, 2.779, 2.771, 2.763, 2.756, 2.750,
)  # fmt: skip


def _t_995(d: int) -> float:
    """Upper 0.5% quantile of Student's t with ``d`` degrees of freedom (Cornish-Fisher above 30)."""
    if d <= len(_T_995):
        return _T_995[d - 1]
    x = 2.5758
    return x + (x**3 + x) / (4 * d) + (5 * x**5 + 16 * x**3 + 3 * x) / (96 * d**2)


def earns_its_parameter(sse_peak: float, sse_plateau: float, dof: int) -> bool:
    """The extra-sum-of-squares F test of the plateau's half-width (one parameter, nested: at
    ``h = 0`` the plateau is the peak model): True when ``F = (SSE_peak - SSE_plateau) /
    (SSE_plateau / dof)`` exceeds ``F_0.01(1, dof) = t_0.995(dof)^2``, ``dof`` the plateau
    model's residual degrees of freedom. Noise rarely (1%) makes a peak look flat-topped."""
    if dof < 1:
        return False
    if sse_plateau <= 0:
        return sse_peak > 0
    return (sse_peak - sse_plateau) / (sse_plateau / dof) > _t_995(dof) ** 2


def distinct_frames(z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples with the very same score merged into one at their mean position (um), sorted.

    Two frames of a camera never score exactly alike; a replayed stack (the twin) shows the
    nearest recorded plane, so positions between planes score the same frame again. A flat top
    fits such repeats exactly, and counting them as independent samples would claim degrees of
    freedom the data do not have (pure noise replayed this way looked like a plateau).
    """
    values, inv = np.unique(s, return_inverse=True)
    if values.size == s.size:
        return z, s
    zm = np.bincount(inv, weights=z) / np.bincount(inv)
    order = np.argsort(zm, kind="stable")
    return zm[order], values[order]


def top_run(v: np.ndarray, j: int) -> tuple[int, int]:
    """The samples' own top: indices ``(a, b)`` of the run of samples around ``j`` (the best)
    whose scores ``v`` (sorted by z, peak up: negated in brightfield) lie above half the best
    one's height over the lowest sample."""
    half = float(np.min(v)) + 0.5 * (float(v[j]) - float(np.min(v)))
    a = b = j
    while a > 0 and v[a - 1] > half:
        a -= 1
    while b < v.size - 1 and v[b + 1] > half:
        b += 1
    return a, b


def wide_top(fit: PeakSignificance) -> bool:
    """True when the fitted top is at least half as wide as its shoulders' own full width at
    half maximum (``2 h >= w f_half``, ``f_half`` the shoulder's half-maximum distance): a top
    that matters at the scale of the depth of field. A narrower top is a peak, whatever a grid
    of shapes fits best to a noise-free peak."""
    shoulder = fit.shape.split("-", 1)[1]
    return 2.0 * fit.half_width >= fit.width * _HALF[shoulder]


def plateau_curve(
    z, centre: float, half_width: float, width: float, shoulder: str = "gaussian"
) -> np.ndarray:
    """The plateau shape ``g`` at ``z`` (um): 1 on ``|z - centre| <= half_width``, shoulders of
    scale ``width`` (um) and shape ``shoulder`` (a key of :data:`SHOULDERS`) beyond. Peak value 1."""
    d = np.maximum(np.abs(np.asarray(z, dtype=float) - centre) - half_width, 0.0)
    return SHOULDERS[shoulder](d / width)


def plateau_fwhm(half_width: float, width: float, shoulder: str) -> float:
    """Full width at half maximum (um) of the plateau shape."""
    return 2.0 * (half_width + width * _HALF[shoulder])


def _columns(
    z: np.ndarray, m: np.ndarray, h: np.ndarray, w: np.ndarray, shoulder: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Columns g (K, N) for centres ``m`` x half-widths ``h`` x shoulder scales ``w`` (um), and the
    centre, half-width, scale and support (at least three samples on the top or within two
    shoulder scales of it, as for the peak models) of each column."""
    d = np.abs(z[None, :] - m[:, None])  # (M, N)
    beyond = np.maximum(d[:, None, :] - h[None, :, None], 0.0)  # (M, H, N)
    u = beyond[:, :, None, :] / w[None, None, :, None]  # (M, H, W, N)
    g = SHOULDERS[shoulder](u).reshape(-1, z.size)
    support = ((u <= 2.0).sum(axis=-1) >= 3).reshape(-1)
    grid = np.meshgrid(m, h, w, indexing="ij")
    return g, grid[0].reshape(-1), grid[1].reshape(-1), grid[2].reshape(-1), support


def fit_plateau(
    z: np.ndarray,
    s: np.ndarray,
    *,
    min_width: float,
    params: int,
    width: float | None = None,
    slope: bool = False,
) -> PeakSignificance | None:
    """Least-squares plateau model over the sorted, distinct samples ``(z, s)``; None when nothing fits.

    Parameters
    ----------
    z, s : ndarray
        Sorted distinct positions (um) and their scores (negated in brightfield).
    min_width : float
        The narrowest shoulder sigma and the smallest half-width (um) on the grid.
    params : int
        Free parameters of the plateau model (the peak model's plus one, the half-width): the
        noise is ``sqrt(SSE / (n - params))``.
    width : float, optional
        Calibrated curve width (um, a Gaussian sigma): the shoulders are limited to scales whose
        half-maximum distance is within a factor 2 of that Gaussian's, as the peak models are.
    slope : bool
        A sloping baseline ``b + c * z`` (brightfield).

    Returns
    -------
    PeakSignificance or None
        ``shape`` ``"plateau-<shoulder>"``, ``z`` the plateau's centre (um), ``half_width`` its
        half-width (um), ``width`` the shoulder scale (um); ``height`` as for the peak models: the model's
        rise over its baseline at the lowest sample on each side of the centre, the smaller one.
    """
    n = z.size
    span = float(np.ptp(z))
    if n - params < 1 or span <= 0:
        return None
    m = np.linspace(z.min(), z.max(), _CENTRES)
    dm = span / (_CENTRES - 1)
    h = np.geomspace(max(min_width, span / 200), 0.5 * span, _HALVES)
    best: tuple[float, float, float, float, float, str] | None = None  # (reduction, a, m, h, w, shoulder)
    for shoulder, half in _HALF.items():
        if width is None:
            w = np.geomspace(max(min_width, span / 400), span, _WIDTHS)
            lo_w, hi_w = 0.0, math.inf
        else:  # shoulders whose half-maximum distance is within a factor 2 of the Gaussian's
            scale = width * _HALF["gaussian"] / half
            lo_w, hi_w = 0.5 * scale, 2.0 * scale
            w = np.geomspace(lo_w, hi_w, 5)
        g, centres, halves, widths, support = _columns(z, m, h, w, shoulder)
        k, _, _ = _best(g, support, s, z, slope)
        if k < 0:
            continue
        fit = (-math.inf, 0.0, float(centres[k]), float(halves[k]), float(widths[k]))
        # three rounds of a local grid around the best so far, each half as wide (the coarse
        # grid alone lands in the right basin but not at its bottom)
        dmk, rh, rw = dm, float(h[1] / h[0]), float(w[1] / w[0])
        for _ in range(_ROUNDS):
            _, _, mc, hc, wc = fit
            m2 = np.linspace(mc - dmk, mc + dmk, 9)
            h2 = np.geomspace(hc / rh, hc * rh, 7)
            w2 = np.clip(np.geomspace(wc / rw, wc * rw, 7), lo_w, hi_w)
            g2, c2, h2s, w2s, sup2 = _columns(z, m2, h2, w2, shoulder)
            k2, red, a = _best(g2, sup2, s, z, slope)
            if k2 >= 0 and red > fit[0]:
                fit = (red, a, float(c2[k2]), float(h2s[k2]), float(w2s[k2]))
            dmk, rh, rw = 0.5 * dmk, math.sqrt(rh), math.sqrt(rw)
        if fit[0] > -math.inf and (best is None or fit[0] > best[0]):
            best = (*fit, shoulder)
    if best is None:
        return None
    red, a, mc, hc, wc, shoulder = best
    g1 = plateau_curve(z, mc, hc, wc, shoulder)
    left, right = z < mc, z > mc
    if not (np.any(left) and np.any(right)):
        height = 0.0
    else:
        gl = float(g1[left][int(np.argmin(s[left]))])
        gr = float(g1[right][int(np.argmin(s[right]))])
        height = a * (1.0 - max(gl, gr))
    sst = float((_baseline_free(s, z, slope) ** 2).sum())
    noise = math.sqrt(max(sst - red, 0.0) / (n - params))
    noise = max(noise, 1e-9 * max(abs(height), 1e-300))
    return PeakSignificance(mc, wc, height, noise, height / noise, f"{PLATEAU}-{shoulder}", half_width=hc)
