"""``bin="auto"``: the automatic k x k binning factor.

Why binning: on noisy high-resolution or 16-bit frames the variance of the Laplacian is
dominated by pixel noise (white noise of std ``s`` adds ``20 s**2`` to LAPV at every focus
position) and the focus curve goes flat. k x k mean binning divides the noise variance by
``k**2`` while keeping the structure that changes with focus, which is coarser than a pixel on
such frames. Too much binning on small or clean frames moves the peak, so the factor depends
on the ROI size and the kind of frame.

The rule (deterministic, from sizes and dtype only -- never from pixel values, so every frame
of a stack or a sweep gets the same factor and the scores stay comparable):

- ROI short side below ``MIN_SIDE`` (64) pixels: ``k = 1`` (tiny frames are never binned).
- uint8 frames (consumer cameras, already denoised / JPEG): ``k = short_side // 512``.
- uint16 and float32 frames (scientific cameras, fluorescence, high dynamic range, noisy):
  ``k = short_side // 128``.
- always ``1 <= k <= MAX_AUTO`` (8).

Tuned on ../shared/stacks (tests/test_measures_shared.py): dfnn_mitochondria (800 x 256,
16-bit) gets k = 2 (peak/median of the LAPV curve 1.04 -> 1.47, argmax on the true plane);
fpd_webcam_rep1 (400 x 400, 8-bit JPEG) keeps k = 1 (k >= 3 would move its argmax off the true
plane by 5 mm or more); maars_bf_yeast (116 x 55) keeps k = 1.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import _validate

#: ROIs whose short side is below this many pixels are never binned.
MIN_SIDE = 64
#: Short side per bin step for uint8 frames.
SIDE_PER_STEP_8BIT = 512
#: Short side per bin step for uint16 and float32 frames.
SIDE_PER_STEP_WIDE = 128
#: Upper limit of the automatic factor.
MAX_AUTO = 8


def resolve_bin_for(shape: tuple[int, ...], dtype: np.dtype, roi: tuple[int, int, int, int]) -> int:
    """The automatic bin factor for an already validated ``(x, y, w, h)`` ROI (see resolve_bin)."""
    side = min(roi[2], roi[3])
    if side < MIN_SIDE:
        return 1
    step = SIDE_PER_STEP_8BIT if np.dtype(dtype) == np.uint8 else SIDE_PER_STEP_WIDE
    return int(min(MAX_AUTO, max(1, side // step)))


def resolve_bin(frame_or_shape_dtype: object, roi: object = None) -> int:
    """Return the bin factor that ``bin="auto"`` uses for a frame (or a shape and dtype) and ROI.

    Parameters
    ----------
    frame_or_shape_dtype : ndarray or (shape, dtype)
        A frame (2-D gray or H x W x 3 BGR; uint8, uint16 or float32), or a pair
        ``(shape, dtype)`` describing one, e.g. ``((1080, 1920, 3), np.uint8)``.
    roi : (x, y, w, h) or None
        The region in pixels; None = the whole frame.

    Returns
    -------
    int
        The k of k x k binning (1 = none), from the module's rule: 1 when the ROI's short
        side is below 64 pixels; else ``short_side // 512`` for uint8 and
        ``short_side // 128`` for uint16/float32 frames; clipped to 1..8. Only sizes and the
        dtype are used, never pixel values, so all frames of one stack get the same factor.

    Raises
    ------
    focuscam.errors.InputError
        Neither a frame nor a (shape, dtype) pair, or a bad ROI.
    """
    if isinstance(frame_or_shape_dtype, np.ndarray):
        img = _validate.check_frame(frame_or_shape_dtype)
        shape, dtype = img.shape, img.dtype
    else:
        try:
            shape, dtype = frame_or_shape_dtype  # type: ignore[misc]
            shape = tuple(int(s) for s in shape)
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise InputError(
                f"frame_or_shape_dtype {frame_or_shape_dtype!r} is neither a frame nor (shape, dtype): "
                "pass the frame or e.g. ((480, 640), np.uint8)"
            ) from None
        if len(shape) not in (2, 3) or min(shape[:2]) < 1:
            raise InputError(f"shape {shape} is not (H, W) or (H, W, 3): give the frame's shape")
        if dtype not in _validate.DTYPES:
            raise InputError(f"dtype {dtype} is not supported: give uint8, uint16 or float32")
    box = _validate.check_roi(roi, shape[0], shape[1])
    return resolve_bin_for(shape, dtype, box)
