"""Shared docstring pieces of the public measures (kept in one place so they cannot drift)."""

from __future__ import annotations

PARAMS = """
    Parameters
    ----------
    frame : ndarray
        2-D gray (H x W) or 3-channel BGR (H x W x 3) frame; uint8, uint16 or float32. BGR is
        converted to gray inside the kernel exactly like ``cv2.cvtColor(frame,
        cv2.COLOR_BGR2GRAY)`` (bit-exact for uint8 and uint16 via its Q15 weights; for float32
        computed in float64 with the weights 0.114, 0.587, 0.299, within about 1e-7 relative
        of OpenCV's float32 result).
    roi : (x, y, w, h) or focuscam.ROI or None
        Region of interest in pixels, like an OpenCV Rect; None = the whole frame. With
        ``bin=1`` pixels just outside the ROI are used as real neighbours; BORDER_REFLECT_101
        (like OpenCV) applies at the frame edges.
    bin : int or "auto"
        k x k binning: the ROI crop is cut into k x k blocks (remainder rows and columns
        dropped), each block becomes its mean, and the measure is taken on that binned crop
        with BORDER_REFLECT_101 at the crop edges. ``"auto"`` picks k from the sizes
        (:func:`focuscam.measures.resolve_bin`). Default 1 (no binning).
"""

RAISES = """
    Raises
    ------
    focuscam.errors.InputError
        Bad frame (ndim, channels, dtype, NaN/inf), ROI, or bin; the message names the fix.
"""
