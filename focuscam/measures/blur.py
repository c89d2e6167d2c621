"""Blur detection: Tong et al. (2004) Haar-wavelet edge-type analysis (``blur_report``).

Unlike the focus measures this is not a score to maximise over a sweep but a verdict on one
frame: is it blurred, and how much? The work is one fused numba kernel
(:mod:`focuscam.measures._kernels_blur`) that reads the region once; this module validates,
chooses the scale and the threshold, and applies Tong's rules.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from . import _validate
from .autobin import resolve_bin_for

#: Tong's edge threshold, 35 on 0..255 data: used as this fraction of the frame's contrast.
THRESHOLD_8BIT = 35.0
#: Default MinZero: blurred when fewer than this fraction of edges are sharp (Dirac/A-step).
MIN_ZERO = 0.05
#: Noise floor of the threshold, in noise standard deviations: pure white noise gives a block
#: whose level-1 Emax (largest of 64 chi(3) magnitudes) exceeds 4.5 sigma with probability ~1 %.
NOISE_SIGMAS = 4.5
#: Grid phases pooled when one phase does not settle the verdict: the block grid moved by
#: 0..15 binned pixels along the diagonal, every offset of the 16-pixel blocks (and so of the
#: three Haar levels): the pooled counts no longer depend on where the frame's origin falls.
PHASES = 16
#: One grid phase settles the verdict when ``per`` is more than this many standard errors
#: from MinZero (a two-sided 95 % interval that excludes MinZero).
VERDICT_Z = 2.0
#: Level-1 ``|HH|`` coefficients sampled (a regular grid) for the noise estimate, at least.
NOISE_SAMPLES = 4096
#: ``median(|x|) / sigma`` of a normal variable (Donoho & Johnstone's MAD estimator).
MAD_TO_SIGMA = 0.6744897501960817


@dataclass(frozen=True)
class BlurReport:
    """Result of :func:`blur_report` (Tong et al. 2004).

    Attributes
    ----------
    per : float
        Fraction of edge blocks that are Dirac or A-step (sharp) edges, 0..1.
    blur_extent : float
        Fraction of G-step/Roof edge blocks that lost their finest-scale detail
        (``Emax1 < threshold``), 0..1; 0.0 when every edge is sharp, 1.0 when the frame has
        no edge at all (featureless or blurred beyond the threshold at every level).
    is_blurred : bool
        ``per < min_zero``, or ``no_evidence``.
    n_edges : int
        Blocks whose largest edge strength over the three levels exceeds ``threshold``.
    n_dirac_astep : int
        Edge blocks with ``Emax1 > Emax2 > Emax3``.
    n_gstep_roof : int
        Edge blocks with ``Emax1 < Emax2 < Emax3`` or a Roof (``Emax2`` the largest).
    n_roof : int
        Edge blocks with ``Emax2 > Emax1`` and ``Emax2 > Emax3``.
    n_blurred : int
        G-step/Roof edge blocks with ``Emax1 < threshold``.
    threshold : float
        Edge threshold used, in the frame's gray levels.
    min_zero : float
        MinZero used for ``is_blurred``.
    bin : int
        k x k binning of the gray ROI before the transform (1 = none).
    contrast : float
        Range of the 8 x 8-pixel means of the (binned) gray ROI, in gray levels.
    noise : float
        Noise standard deviation, ``median(|HH|) / 0.6745`` of the level-1 band, in gray levels of
        the binned image (at least the quantisation floor ``1 / sqrt(12) / k`` for integer frames).
    no_evidence : bool
        The frame gives no evidence of sharpness, so ``is_blurred`` is True whatever ``per``:
        it is noise-limited (its contrast is below ``4.5 * 255 / 35 ~ 33`` noise standard
        deviations, so Tong's threshold falls under the noise floor and what passes it is
        noise, not scene) or has fewer than :func:`min_edges` edge blocks per pooled phase.
    phases : int
        Block-grid phases pooled in the counts: 1, or up to :data:`PHASES` when one phase left
        the verdict open (see :func:`blur_report`). The counts are sums over the phases.
    """

    per: float
    blur_extent: float
    is_blurred: bool
    n_edges: int
    n_dirac_astep: int
    n_gstep_roof: int
    n_roof: int
    n_blurred: int
    threshold: float
    min_zero: float
    bin: int = 1
    contrast: float = 0.0
    noise: float = 0.0
    no_evidence: bool = False
    phases: int = 1

    def to_dict(self) -> dict:
        """The report as a plain dict (JSON-ready)."""
        return asdict(self)


def auto_threshold(contrast: float, noise: float) -> float:
    """The edge threshold: Tong's 35/255 of the frame's contrast, never below the noise floor.

    ``max(35 / 255 * contrast, 4.5 * noise)``. Tong's 35 is for 8-bit photographs that span
    0..255; scaling it by the frame's own contrast (not by its dtype) makes the verdict the
    same under any gain and offset and for any bit depth in any container (12-bit data in
    uint16, float data in 0..1 or 0..4095). The noise floor keeps noise specks from counting
    as edges: white noise reads as Dirac/A-step (its Haar detail shrinks with the level), so
    a noisy defocused frame would otherwise look sharp.
    """
    return max(THRESHOLD_8BIT / 255.0 * float(contrast), NOISE_SIGMAS * float(noise))


def min_edges(min_zero: float) -> int:
    """Edge blocks a verdict of "sharp" needs: ``ceil(1 / min_zero)`` (20 for MinZero 0.05).

    With fewer edges than that, ``per`` cannot express a fraction below MinZero (one sharp
    block alone exceeds it), so the verdict would rest on a single block.
    """
    return math.ceil(1.0 / min_zero - 1e-9) if min_zero > 0 else 0


def _needs_phases(n_edges: int, n_sharp: int, min_zero: float) -> bool:
    """True when one grid phase does not settle the verdict, so all :data:`PHASES` are pooled.

    That is when the frame has some edges but fewer than :func:`min_edges`, or when ``per`` is
    within :data:`VERDICT_Z` standard errors of MinZero: ``n_sharp`` is a binomial count, whose
    standard error under ``per == min_zero`` is ``sqrt(min_zero (1 - min_zero) / n_edges)``.
    """
    if n_edges == 0 or min_zero <= 0:
        return False
    if n_edges < min_edges(min_zero):
        return True
    return abs(n_sharp / n_edges - min_zero) < VERDICT_Z * math.sqrt(min_zero * (1.0 - min_zero) / n_edges)


_local = threading.local()


def _workspace(n_blocks: int, width: int, n_samples: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """Per-thread buffers reused across calls (grown when a bigger region comes).

    (work rows, accumulator row, emax, |HH| samples, counts); the accumulator is int32 for
    uint8 frames, int64 for uint16 and float64 for float32 (exact sums of gray values).
    """
    acc_type = {np.dtype(np.uint8): np.int32, np.dtype(np.uint16): np.int64}.get(np.dtype(dtype), np.float64)
    cache = getattr(_local, "ws", None)
    if cache is None:
        cache = _local.ws = {}
    ws = cache.get(acc_type)
    if ws is None or ws[2].shape[0] < n_blocks or ws[0].shape[1] < width or ws[3].shape[0] < n_samples:
        old = (0, 0, 0) if ws is None else (ws[2].shape[0], ws[0].shape[1], ws[3].shape[0])
        size, cols, ns = max(n_blocks, 64, old[0]), max(width, 256, old[1]), max(n_samples, old[2])
        ws = (
            np.zeros((20, cols)),
            np.zeros(cols, acc_type),
            np.empty((size, 3)),
            np.empty(ns),
            np.zeros(5, np.int64),
        )
        cache[acc_type] = ws
    return ws


def _sampling(nby: int, nbx: int) -> tuple[int, int, int]:
    """(row step, column step, count) of the level-1 ``|HH|`` sample: about :data:`NOISE_SAMPLES`."""
    f = 1
    while f < 64 and nby * nbx * 64 // (2 * f) >= NOISE_SAMPLES:
        f *= 2
    rs = min(f, 8)
    cs = f // rs
    return rs, cs, nby * (8 // rs) * ((8 * nbx + cs - 1) // cs)


def _check_scalar(value, name: str, ok, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise InputError(f"{name} {value!r} is not valid: {fix}")


def blur_report(
    frame, roi=None, threshold: float | None = None, min_zero: float = MIN_ZERO, bin="auto"
) -> BlurReport:
    """Tong et al. (2004) blur detection on a frame's ROI.

    The gray ROI (BGR converted as ``cv2.cvtColor`` does) is binned ``k x k`` (``bin``),
    cropped to a multiple of 16 binned pixels from its top-left corner and decomposed, one
    16 x 16 block at a time, by a 3-level Haar transform. Each level's edge map
    ``sqrt(LH**2 + HL**2 + HH**2)`` (in gray levels: mean-normalised Haar, so an ideal step
    has the same strength at every level) is max-pooled over the block, giving ``Emax1..3``.
    A block is an edge when ``max(Emax1, Emax2, Emax3) > threshold``; Dirac/A-step when
    ``Emax1 > Emax2 > Emax3``; G-step/Roof when ``Emax1 < Emax2 < Emax3`` or (Roof)
    ``Emax2`` is the largest. ``per = N(Dirac/A-step) / N(edge)`` (0 when there are no edges,
    so a featureless frame counts as blurred) and ``blur_extent = N(G-step/Roof with
    Emax1 < threshold) / N(G-step/Roof)`` (1.0 when there is no edge at all).

    The scale and the threshold (the rule; see :func:`auto_threshold`):

    - ``bin="auto"``: the factor of the focus measures' ``bin="auto"``
      (:func:`~focuscam.measures.resolve_bin`, from the ROI size and dtype only, so every
      frame of a stream is judged at the same scale), reduced if needed to keep 16 x 16
      binned pixels. Large and 16-bit frames are oversampled and noisy at the pixel level;
      Tong's three levels then start at the scale where focus shows.
    - ``threshold=None``: ``max(35/255 * contrast, 4.5 * noise)`` with ``contrast`` the range
      of the 8 x 8-pixel means of the binned ROI and ``noise`` Donoho and Johnstone's
      ``median(|HH|) / 0.6745`` of the level-1 diagonal band (on a regular sample of at least
      4096 coefficients; at least the quantisation noise of integer data). The median of the
      coefficients, not of per-block energies, so that edges, even dense ones, do not count
      as noise.

    The verdict (``is_blurred``), made independent of where the block grid falls and never
    resting on a handful of blocks:

    - ``n_dirac_astep`` is a binomial count out of ``n_edges``. When ``per`` is within two
      standard errors ``sqrt(min_zero (1 - min_zero) / n_edges)`` of MinZero, or the frame has
      some edges but fewer than :func:`min_edges` (``ceil(1 / min_zero)``), one grid phase does
      not settle it: the counts are then pooled over :data:`PHASES` grids moved by 0..15
      binned pixels down the diagonal (every offset of the blocks and of the three Haar
      levels; the same threshold). On real frames the grid offset alone moves one phase's
      ``per`` by about one standard error; the pooled ``per`` of a frame cropped by 0..15
      pixels varies by ~0.001. Only such frames pay the extra passes (up to 16x, on a region
      shrunk by the shift); clear verdicts cost one pass.
    - No evidence, blurred (``no_evidence``): a noise-limited frame (contrast below ~33 noise
      standard deviations: Tong's threshold falls under the noise floor, and what passes it is
      noise, e.g. a dark sensor frame) or fewer than :func:`min_edges` edge blocks per phase
      (pooled phases see the same edges again, so they add no evidence). A frame without
      evidence of sharpness counts as blurred, as a featureless one does. Consequence: a
      region of fewer than 20 blocks (e.g. 64 x 64 pixels at bin 1) never reads sharp.

    Parameters
    ----------
    frame : ndarray
        2-D gray or BGR frame; uint8, uint16 or float32.
    roi : (x, y, w, h) or None
        Region in pixels, at least 16 x 16 binned pixels; None = whole frame.
    threshold : float or None
        Edge threshold in gray levels; None = the automatic rule above.
    min_zero : float
        Blurred when ``per < min_zero`` (default 0.05), 0..1.
    bin : int or "auto"
        k x k binning before the transform (1..16), or ``"auto"`` (default).

    Returns
    -------
    BlurReport

    Raises
    ------
    focuscam.errors.InputError
        Bad frame or ROI, ROI smaller than 16 x 16 binned pixels, bad threshold, min_zero or bin.

    References
    ----------
    .. [1] H. Tong, M. Li, H. Zhang, C. Zhang, "Blur detection for digital images using wavelet
       transform", IEEE ICME 2004, pp. 17-20.
    .. [2] D. L. Donoho, I. M. Johnstone, "Ideal spatial adaptation by wavelet shrinkage",
       Biometrika 81 (1994): the noise level from the finest diagonal wavelet band.
    """
    from ._kernels_blur import blur_blocks, blur_counts

    img = _validate.check_frame(frame)
    x, y, w, h = _validate.check_roi(roi, img.shape[0], img.shape[1])
    if w < 16 or h < 16:
        raise InputError(f"roi {(x, y, w, h)} is smaller than 16x16: blur_report needs at least 16x16 pixels")
    if threshold is not None:
        _check_scalar(
            threshold,
            "threshold",
            lambda v: math.isfinite(v) and v > 0,
            "give a positive number of gray levels",
        )
    _check_scalar(min_zero, "min_zero", lambda v: 0 <= v <= 1, "give a fraction between 0 and 1")
    k = _validate.check_bin(bin)
    if k == "auto":
        k = max(1, min(resolve_bin_for(img.shape, img.dtype, (x, y, w, h)), min(w, h) // 16))
    elif w // k < 16 or h // k < 16:
        raise InputError(
            f"bin {k} leaves fewer than 16x16 binned pixels of the {w}x{h} ROI: "
            f"use a bin <= {min(w, h) // 16} or a bigger ROI"
        )
    if img.dtype.kind == "f" and not np.isfinite(img[y : y + h, x : x + w]).all():
        raise InputError(
            "frame has NaN or inf values in the ROI: replace them first, e.g. np.nan_to_num(frame)"
        )
    flat, nch = img.reshape(img.shape[0], -1), img.shape[2]
    nby, nbx = h // k // 16, w // k // 16
    rs, cs, n_samples = _sampling(nby, nbx)
    work, acc, emax, samples, counts = _workspace(nby * nbx, 16 * nbx, n_samples, img.dtype)
    lo, hi = blur_blocks(flat, nch, y, x, k, nby, nbx, work, acc, emax, samples, rs, cs)
    n = nby * nbx
    noise = float(np.median(samples[:n_samples])) / MAD_TO_SIGMA
    if img.dtype.kind != "f":
        noise = max(noise, math.sqrt(1.0 / 12.0) / k)
    contrast = float(hi - lo)
    if threshold is None:
        threshold = auto_threshold(contrast, noise)
    blur_counts(emax, n, float(threshold), counts)
    total = counts.copy()
    noise_limited = THRESHOLD_8BIT / 255.0 * contrast < NOISE_SIGMAS * noise
    phases = 1
    if not noise_limited and _needs_phases(int(total[0]), int(total[1]), min_zero):
        for s in range(1, PHASES):  # the grid moved by s binned pixels down and right
            sy, sx = (h - s * k) // k // 16, (w - s * k) // k // 16
            if sy < 1 or sx < 1:
                break
            blur_blocks(flat, nch, y + s * k, x + s * k, k, sy, sx, work, acc, emax, samples[:0], 1, 1)
            blur_counts(emax, sy * sx, float(threshold), counts)
            total += counts
            phases += 1
    n_edges, n_da, n_rg, n_roof, n_blurred = (int(c) for c in total)
    per = n_da / n_edges if n_edges else 0.0
    if n_edges == 0:
        extent = 1.0  # nothing stands out at any scale: as blurred as it gets
    else:
        extent = n_blurred / n_rg if n_rg else 0.0
    # the phases see the same edges again: the evidence is the edge blocks of one phase
    no_evidence = min_zero > 0 and (noise_limited or n_edges < phases * min_edges(min_zero))
    return BlurReport(
        per=per,
        blur_extent=extent,
        is_blurred=bool(per < min_zero or no_evidence),
        n_edges=n_edges,
        n_dirac_astep=n_da,
        n_gstep_roof=n_rg,
        n_roof=n_roof,
        n_blurred=n_blurred,
        threshold=float(threshold),
        min_zero=float(min_zero),
        bin=int(k),
        contrast=contrast,
        noise=noise,
        no_evidence=bool(no_evidence),
        phases=phases,
    )
