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
        ``per < min_zero``.
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
        Noise standard deviation estimated from the level-1 ``HH`` band, in gray levels of
        the binned image (at least the quantisation floor ``1 / sqrt(12) / k`` for integer frames).
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


_local = threading.local()


def _workspace(n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread buffers reused across calls (grown when a bigger region comes)."""
    ws = getattr(_local, "ws", None)
    if ws is None or ws[1].shape[0] < n_blocks:
        size = max(n_blocks, 64)
        ws = (np.empty((2, 16, 16)), np.empty((size, 3)), np.empty(size), np.zeros(5, np.int64))
        _local.ws = ws
    return ws


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
      of the 8 x 8-pixel means of the binned ROI and ``noise`` the median over the blocks of
      the RMS of the level-1 ``HH`` band (at least the quantisation noise of integer data).

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
    nby, nbx = h // k // 16, w // k // 16
    if img.dtype.kind == "f" and not np.isfinite(img[y : y + nby * 16 * k, x : x + nbx * 16 * k]).all():
        raise InputError(
            "frame has NaN or inf values in the ROI: replace them first, e.g. np.nan_to_num(frame)"
        )
    nch = img.shape[2]
    buf, emax, hh, counts = _workspace(nby * nbx)
    lo, hi = blur_blocks(img.reshape(img.shape[0], -1), nch, y, x, k, nby, nbx, buf, emax, hh)
    n = nby * nbx
    var = float(np.median(hh[:n]))
    if img.dtype.kind != "f":
        var = max(var, 1.0 / 12.0 / (k * k))
    noise, contrast = math.sqrt(var), float(hi - lo)
    if threshold is None:
        threshold = auto_threshold(contrast, noise)
    blur_counts(emax, n, float(threshold), counts)
    n_edges, n_da, n_rg, n_roof, n_blurred = (int(c) for c in counts)
    per = n_da / n_edges if n_edges else 0.0
    if n_edges == 0:
        extent = 1.0  # nothing stands out at any scale: as blurred as it gets
    else:
        extent = n_blurred / n_rg if n_rg else 0.0
    return BlurReport(
        per=per,
        blur_extent=extent,
        is_blurred=bool(per < min_zero),
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
    )
