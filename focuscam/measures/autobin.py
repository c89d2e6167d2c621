"""``bin="auto"``: the automatic k x k binning factor.

The rule depends only on the frame's shape and dtype and on the ROI, never on the pixels, so
every frame of a stack (or of a live sweep) gets the same factor and their scores stay
comparable.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import _validate

#: ROIs whose short side is below this many pixels are never binned (small frames: binning
#: would move the peak and blur away the little detail there is).
MIN_SIDE = 192
#: Binning aims at a binned short side of about this many pixels.
TARGET_SIDE = 128
#: Upper limit of the automatic factor.
MAX_AUTO = 8


def resolve_bin_for(shape: tuple[int, ...], dtype: np.dtype, roi: tuple[int, int, int, int]) -> int:
    """The automatic bin factor for an already validated ``(x, y, w, h)`` ROI (see resolve_bin)."""
    side = min(roi[2], roi[3])
    if side < MIN_SIDE:
        return 1
    return int(min(MAX_AUTO, max(1, side // TARGET_SIDE)))


def resolve_bin(frame_or_shape_dtype: object, roi: object = None) -> int:
    """Return the bin factor that ``bin="auto"`` uses for a frame (or a shape and dtype) and ROI.

    Parameters
    ----------
    frame_or_shape_dtype : ndarray or (shape, dtype)
        A frame (2-D gray or H x W x 3 BGR; uint8, uint16 or float32), or a pair
        ``(shape, dtype)`` describing one.
    roi : (x, y, w, h) or None
        The region in pixels; None = the whole frame.

    Returns
    -------
    int
        The k of k x k binning: 1 (no binning) when the ROI's short side is below
        ``MIN_SIDE`` (192) pixels, else ``short_side // TARGET_SIDE`` (128) capped at
        ``MAX_AUTO`` (8). The rule uses only sizes (not pixel values), so all frames of one
        stack get the same factor.
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
        if len(shape) not in (2, 3):
            raise InputError(f"shape {shape} has {len(shape)} dimensions: give (H, W) or (H, W, 3)")
        if dtype not in _validate.DTYPES:
            raise InputError(f"dtype {dtype} is not supported: give uint8, uint16 or float32")
    box = _validate.check_roi(roi, shape[0], shape[1])
    return resolve_bin_for(shape, dtype, box)
