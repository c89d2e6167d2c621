"""The ONE significance rule: is a peak in a sampled focus curve real?

Every caller -- :func:`focuscam.select_plane`, every search strategy (and so
``focuscam autofocus``) and ``focuscam evaluate`` -- decides "focused" with :func:`test_peak`,
through :func:`focuscam.search.peak.fit_peak`. The rule holds for few and irregular samples (an
adaptive search, a stack with uneven plane spacing) and for both peak-fit modes.

The rule
--------
1. **A peak model** ``score = b + a * g((z - m) / w)`` is fitted by least squares on a grid
   of centres ``m`` and widths ``w`` (``a > 0`` and ``b`` solved linearly for each), for three
   shapes
   ``g`` (Gaussian, Lorentzian and a cusp ``exp(-|u|)``, as sharp focus peaks are). The model
   must cover at least three samples within ``2 w`` of its centre (a model explaining one sample
   is not a peak). With a calibrated curve width (``width``, e.g. the rig's
   ``[autofocus] curve_width_um``, a Gaussian sigma) only shapes whose full width at half
   maximum is within a factor 2 of that Gaussian's are tried: a model
   matched to the optics, one free parameter fewer.
   In ``brightfield`` mode the focal plane is a contrast minimum between two maxima of
   unequal height: the same model, on a sloping baseline ``b + c * z``, is fitted to the
   *negated* scores of all samples (choosing a window around the dip
   from the data would make noise look like a dip).
2. **Noise** is the residual standard deviation of that fit, ``sqrt(SSE / (n - p))`` with ``p``
   the model's parameters (4: centre, width, height, baseline; one fewer with a
   calibrated width, one more for the brightfield slope). It needs ``n >= p + 2`` samples;
   with fewer the peak is **not tested** and the fit fails ("too few samples to test"): no
   sigma figure and no confidence are claimed for an untested peak.
3. **The test**: the peak's ``height`` (the model's rise over its baseline at the lowest
   sample on each side of its centre, the smaller of the two: a peak falls on both sides; in
   brightfield these are the two maxima around the dip) must be at
   least ``min_snr`` (:data:`MIN_SNR` = 5) times an upper 95% confidence bound of the noise
   sigma, ``noise * sqrt(d / chi2_0.05(d))`` with ``d = n - p`` degrees of freedom. With many
   samples the bound is close to the noise itself (factor 1.4 at d = 30); with few it grows
   (2.1 at d = 5, 4.4 at d = 2), so a peak fitted through a handful of irregular samples must
   stand out much more. ``snr = height / noise`` is reported; ``threshold`` is
   ``min_snr * sqrt(d / chi2_0.05(d))``.

4. **Flat tops** (a sample thicker than the depth of field): with ``n >= p + 3`` samples a
   plateau model (:mod:`focuscam.search.plateau`: a flat top of fitted half-width with the
   same shoulder shapes) is fitted too, with ``p + 1`` parameters in its noise and its bound.
   It replaces the peak model when its half-width passes an F test (1%) against it, its top is
   at least half as wide as its shoulders, and its ``snr / threshold`` is the larger;
   ``Significance.params`` says which count was used.

The same rule, the same constants, for every mode, strategy and command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_SNR", "PeakSignificance", "Significance", "snr_threshold", "test_peak"]

#: Least peak height in (upper-bound) noise sigmas of the peak-model fit.
MIN_SNR = 5.0

#: Lower 5% quantiles of the chi-square distribution for 1..20 degrees of freedom.
_CHI2_05 = (
    0.003932, 0.1026, 0.3518, 0.7107, 1.1455, 1.6354, 2.1673, 2.7326, 3.3251, 3.9403,
    4.5748, 5.2260, 5.8919, 6.5706, 7.2609, 7.9616, 8.6718, 9.3905, 10.1170, 10.8508,
)  # fmt: skip

_CENTRES = 64
_WIDTHS = 16


def model_params(calibrated: bool, slope: bool) -> int:
    """Free parameters of the peak model: centre, height, baseline (+ width) (+ slope)."""
    return 3 + (not calibrated) + bool(slope)


def _chi2_05(d: int) -> float:
    """Lower 5% quantile of chi-square with ``d`` degrees of freedom (Wilson-Hilferty above 20)."""
    if d <= len(_CHI2_05):
        return _CHI2_05[d - 1]
    c = 2.0 / (9.0 * d)
    return d * (1.0 - c - 1.6449 * math.sqrt(c)) ** 3


def snr_threshold(dof: int, min_snr: float = MIN_SNR) -> float:
    """The SNR a peak needs with ``dof`` residual degrees of freedom: ``min_snr * sqrt(d / chi2_0.05(d))``."""
    return float(min_snr * math.sqrt(dof / _chi2_05(dof)))


@dataclass(frozen=True)
class PeakSignificance:
    """The best model fit: centre ``z`` (um), ``width`` (um, the shape's scale), ``height``,
    ``noise`` (residual sigma) and ``snr``."""

    z: float
    width: float
    height: float
    noise: float
    snr: float
    shape: str = "gaussian"
    #: Half-width (um) of the flat top of a ``"plateau-*"`` shape (0 for the peak shapes).
    half_width: float = 0.0

    @property
    def fwhm(self) -> float:
        """Full width at half maximum of the fitted shape (um)."""
        if self.shape.startswith("plateau-"):  # a flat top with shoulders of scale ``width``
            from .plateau import plateau_fwhm

            return plateau_fwhm(self.half_width, self.width, self.shape.split("-", 1)[1])
        return self.width * _FWHM[_SHAPES.index(self.shape)]

    @property
    def sigma(self) -> float:
        """The Gaussian sigma with the same FWHM (um): the rig's ``curve_width_um``."""
        return self.fwhm / _GAUSS_FWHM


@dataclass(frozen=True)
class Significance:
    """The outcome of :func:`test_peak`.

    Attributes
    ----------
    tested : bool
        False when there were too few samples to test (then ``significant`` is False).
    significant : bool
        ``snr >= threshold``.
    snr : float
        Model height over the residual noise (0 when untested).
    threshold : float
        The SNR needed with this many samples (:func:`snr_threshold`; 0 when untested).
    n : int
        Samples tested (distinct positions; in brightfield the samples between the maxima).
    needed : int
        Samples the test needs (model parameters + 2).
    model : PeakSignificance or None
        The best model fit.
    text : str
        One line saying what was done, for people.
    params : int
        Free parameters of the model tested (``threshold`` uses ``n - params`` degrees of
        freedom; one more for a ``"plateau-*"`` shape than for the peak shapes).
    """

    tested: bool
    significant: bool
    snr: float
    threshold: float
    n: int
    needed: int
    model: PeakSignificance | None
    text: str
    params: int = 0


_SHAPES = ("gaussian", "lorentzian", "cusp")


def _columns(z: np.ndarray, m: np.ndarray, w: np.ndarray, shapes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Model columns g (K, N) over the positions for centres ``m`` x widths ``w`` x ``shapes``."""
    u = np.abs(z[None, None, :] - m[:, None, None]) / w[None, :, None]  # (M, W, N)
    support = ((u <= 2.0).sum(axis=2) >= 3).reshape(-1)
    fns = (lambda v: np.exp(-0.5 * v**2), lambda v: 1.0 / (1.0 + v**2), lambda v: np.exp(-v))
    g = np.concatenate([fns[k](u).reshape(-1, z.size) for k in shapes])
    per = m.size * w.size
    centres = np.tile(np.repeat(m, w.size), len(shapes))
    widths = np.tile(np.tile(w, m.size), len(shapes))
    kinds = np.repeat(np.asarray(shapes), per)
    return g, centres, widths, np.tile(support, len(shapes)), kinds


def _baseline_free(v: np.ndarray, z: np.ndarray, slope: bool) -> np.ndarray:
    """``v`` (last axis over the samples) minus its mean, or its least-squares line in ``z``."""
    vc = v - v.mean(axis=-1, keepdims=True)
    if not slope:
        return vc
    x = (z - z.mean()) / max(float(np.ptp(z)), 1e-300)
    slope = (vc @ x) / float(x @ x)
    return vc - np.multiply.outer(slope, x) if vc.ndim > 1 else vc - slope * x


def _best(
    g: np.ndarray, support: np.ndarray, s: np.ndarray, z: np.ndarray, slope: bool
) -> tuple[int, float, float]:
    """Index of the best-fitting column, its sum-of-squares reduction and amplitude (-1 if none)."""
    gc = _baseline_free(g, z, slope)
    var_g = (gc**2).sum(axis=1)
    cov = gc @ _baseline_free(s, z, slope)
    ok = support & (var_g > 1e-12) & (cov > 0)
    if not np.any(ok):
        return -1, 0.0, 0.0
    red = np.where(ok, cov**2 / np.where(var_g > 1e-12, var_g, 1.0), -np.inf)
    k = int(np.argmax(red))
    return k, float(red[k]), float(cov[k] / var_g[k])


#: FWHM of each shape in units of its scale ``w`` (Gaussian, Lorentzian, cusp).
_FWHM = (2.0 * math.sqrt(2.0 * math.log(2.0)), 2.0, 2.0 * math.log(2.0))
_GAUSS_FWHM = _FWHM[0]


def fit_model(
    z: np.ndarray, s: np.ndarray, *, min_width: float, width: float | None = None, slope: bool = False
) -> PeakSignificance | None:
    """Least-squares peak model over the sorted samples ``(z, s)``; None when nothing fits.

    A coarse grid of centres and widths for every shape, then a finer grid around the best
    centre and width of each shape. ``width`` is a Gaussian sigma (um); each shape's scale is
    limited to the scales whose FWHM is within a factor 2 of that Gaussian's. ``slope`` adds a
    linear term to the baseline.
    """
    n = z.size
    params = model_params(width is not None, slope)
    span = float(np.ptp(z))
    m = np.unique(np.concatenate([np.linspace(z.min(), z.max(), _CENTRES), z]))
    dm = span / (_CENTRES - 1)
    best: tuple[float, float, float, float, int] | None = None  # (reduction, a, m, w, shape)
    for shape in (0, 1, 2):
        if width is None:
            w = np.geomspace(max(min_width, span / 400), span, _WIDTHS)
            lo_w, hi_w = 0.0, math.inf
        else:
            scale = width * _GAUSS_FWHM / _FWHM[shape]
            lo_w, hi_w = 0.5 * scale, 2.0 * scale
            w = np.geomspace(lo_w, hi_w, 7)
        g, centres, widths, support, _ = _columns(z, m, w, (shape,))
        k, _, _ = _best(g, support, s, z, slope)
        if k < 0:
            continue
        mc, wc = float(centres[k]), float(widths[k])
        ratio = float(w[1] / w[0])
        m2 = np.linspace(mc - dm, mc + dm, 15)
        w2 = np.clip(np.geomspace(wc / ratio, wc * ratio, 15), lo_w, hi_w)
        g2, c2, w2s, sup2, _ = _columns(z, m2, w2, (shape,))
        k2, red2, a2 = _best(g2, sup2, s, z, slope)
        if k2 >= 0 and (best is None or red2 > best[0]):
            best = (red2, a2, float(c2[k2]), float(w2s[k2]), shape)
    if best is None:
        return None
    red, a, mc, wc, shape = best
    g1, *_ = _columns(z, np.array([mc]), np.array([wc]), (shape,))
    # the rise of the model's peak over its baseline at the lowest sample on EACH side of its
    # centre: a peak falls on both sides (a broad model explaining one high end sample is no
    # peak); in brightfield those lowest samples of the negated curve are the two maxima
    left, right = z < mc, z > mc
    if not (np.any(left) and np.any(right)):
        height = 0.0
    else:
        gl = float(g1[0][left][int(np.argmin(s[left]))])
        gr = float(g1[0][right][int(np.argmin(s[right]))])
        height = a * (1.0 - max(gl, gr))
    sst = float((_baseline_free(s, z, slope) ** 2).sum())
    noise = math.sqrt(max(sst - red, 0.0) / max(n - params, 1))
    # a floor on the noise: float rounding of a perfect model must not give an infinite ratio
    noise = max(noise, 1e-9 * max(abs(height), 1e-300))
    return PeakSignificance(mc, wc, height, noise, height / noise, _SHAPES[shape])


def _dip_window(s: np.ndarray, needed: int) -> tuple[int, int]:
    """Index range from the maximum left of the deepest dip to the maximum right of it,
    widened by whole samples on both sides while it holds fewer than ``needed``."""
    left = np.maximum.accumulate(s)
    right = np.maximum.accumulate(s[::-1])[::-1]
    depth = np.minimum(left, right) - s
    j = int(np.argmax(depth))
    a = int(np.argmax(s[: j + 1]))
    b = j + int(np.argmax(s[j:])) + 1
    while b - a < needed and (a > 0 or b < s.size):
        a, b = max(a - 1, 0), min(b + 1, s.size)
    return a, b


def _unique(z, s) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(z, dtype=float)
    s = np.asarray(s, dtype=float)
    uz, inv = np.unique(np.round(z, 9), return_inverse=True)
    return uz, np.bincount(inv, weights=s) / np.bincount(inv)


def test_peak(
    z,
    scores,
    *,
    mode: str = "max",
    min_width: float | None = None,
    width: float | None = None,
    min_snr: float = MIN_SNR,
) -> Significance:
    """Test whether the peak (``max``) or dip (``brightfield``) of a sampled curve is real.

    Parameters
    ----------
    z, scores : array_like
        Sample positions (um) and scores, any order; repeated positions are averaged.
    mode : {"max", "brightfield"}
        Peak-fit mode (see :mod:`focuscam.search.peak`).
    min_width : float, optional
        The narrowest peak (um) the model may use; default a 400th of the span.
    width : float, optional
        Calibrated curve width (um, the Gaussian sigma of the rig's focus curve): models are
        limited to widths within a factor 2 of it (one parameter fewer).
    min_snr : float
        The rule's factor (default :data:`MIN_SNR`).

    Returns
    -------
    Significance
    """
    zs, ss = _unique(z, scores)
    slope = mode == "brightfield"
    params = model_params(width is not None, slope)
    needed = params + 2
    if mode == "brightfield":
        a, b = _dip_window(ss, needed)
        zs, ss = zs[a:b], -ss[a:b]
    n = int(zs.size)
    if n < needed:
        text = f"significance not tested: {n} samples are too few (the test needs {needed})"
        return Significance(False, False, 0.0, 0.0, n, needed, None, text)
    threshold = snr_threshold(n - params, min_snr)
    span = float(np.ptp(zs))
    if span <= 0 or float(np.ptp(ss)) <= 1e-12 * max(1.0, float(np.max(np.abs(ss)))):
        return Significance(True, False, 0.0, threshold, n, needed, None, "flat curve: no sample stands out")
    model = fit_model(zs, ss, min_width=min_width or span / 400, width=width, slope=slope)
    snr = 0.0 if model is None else model.snr
    kind = "peak"
    # a flat top (a thick sample): the plateau model, with its extra parameter counted
    plateau, p_threshold = _plateau(zs, ss, n, params, min_width or span / 400, width, slope, min_snr, model)
    if plateau is not None and plateau.snr / p_threshold > snr / threshold:
        model, snr, threshold, params, kind = plateau, plateau.snr, p_threshold, params + 1, "plateau"
    significant = snr >= threshold
    text = f"peak {snr:.3g} x the noise of a {kind}-model fit ({n} samples, needs {threshold:.3g})"
    if not significant:
        text = f"peak not significant: {text}"
    return Significance(True, significant, snr, threshold, n, needed, model, text, params)


def _plateau(
    zs, ss, n, params, min_width, width, slope, min_snr, peak
) -> tuple[PeakSignificance | None, float]:
    """The plateau model (:mod:`focuscam.search.plateau`) and its threshold, with one parameter
    more than the peak models: tried only with ``params + 3`` distinct frames (samples with the
    very same score are one replayed frame, :func:`~focuscam.search.plateau.distinct_frames`),
    and kept only when its top is wide and passes the F test against the best peak model."""
    from .plateau import distinct_frames, earns_its_parameter, fit_plateau, wide_top

    zp, sp = distinct_frames(zs, ss)
    m = int(zp.size)
    if m < params + 3:
        return None, math.inf
    fit = fit_plateau(zp, sp, min_width=min_width, params=params + 1, width=width, slope=slope)
    if fit is None or not wide_top(fit):
        return None, math.inf
    if m < n:  # the peak model on the same distinct frames: the F test compares nested fits
        peak = fit_model(zp, sp, min_width=min_width, width=width, slope=slope)
    dof = m - params - 1
    sse_peak = math.inf if peak is None else peak.noise**2 * (m - params)
    if not earns_its_parameter(sse_peak, fit.noise**2 * dof, dof):
        return None, math.inf
    return fit, snr_threshold(dof, min_snr)


# pytest must not collect the public function as a test
test_peak.__test__ = False  # type: ignore[attr-defined]
