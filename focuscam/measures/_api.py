"""The public measure functions :func:`measure` and :func:`focus_map` (numpy and numba load here).

Imported lazily by :mod:`focuscam.measures`, whose :data:`MEASURES` registry needs neither.
"""

from __future__ import annotations

import numpy as np

from . import MEASURES, _run, _validate
from .autobin import resolve_bin
from .gradient import bren, teng, tenv
from .laplacian import lapd, lapm, lapv
from .spectral import fftb
from .statistics import glvn, vol5, vola
from .wavelet import wavs

__all__ = ["focus_map", "measure"]

_FUNCS = {
    "lapv": lapv,
    "lapm": lapm,
    "lapd": lapd,
    "teng": teng,
    "tenv": tenv,
    "bren": bren,
    "glvn": glvn,
    "vola": vola,
    "wavs": wavs,
    "vol5": vol5,
    "fftb": fftb,
}


def measure(frame, name: str = "lapv", roi=None, bin=1) -> float:
    """Score the sharpness of a frame's ROI with the focus measure ``name``.

    Parameters
    ----------
    frame : ndarray
        2-D gray (H x W) or BGR (H x W x 3) frame; uint8, uint16 or float32.
    name : str
        One of :data:`MEASURES` (default ``"lapv"``, the variance of the Laplacian).
    roi : (x, y, w, h) or focuscam.ROI or None
        Region in pixels (like an OpenCV Rect); None = whole frame.
    bin : int or "auto"
        k x k binning (1..16) fused into the kernel, or ``"auto"`` (:func:`resolve_bin`).

    Returns
    -------
    float
        The score; higher = sharper. See each measure's function for its unit and borders.

    Raises
    ------
    focuscam.errors.InputError
        Unknown name, bad frame, ROI or bin; the message names the fix.
    """
    _validate.check_name(name, MEASURES)
    return _FUNCS[name](frame, roi=roi, bin=bin)


def focus_map(frame, name: str = "lapv", grid=(3, 3), roi=None, bin=1) -> np.ndarray:
    """The measure of every tile of the ROI cut into a ``rows x cols`` grid.

    Tile ``(r, c)`` covers ROI rows ``[r*h//rows, (r+1)*h//rows)`` and columns
    ``[c*w//cols, (c+1)*w//cols)`` (sizes differ by at most one pixel). Each value equals
    ``measure(frame, name, tile_roi, bin)``: with ``bin=1`` the neighbours of a tile are real
    pixels (of the next tile or outside the ROI) and the whole grid is computed by one kernel
    call in one pass over the ROI (per-tile sums of each row); with ``bin > 1`` every tile is
    binned as its own crop, so each tile takes one kernel call.

    Parameters
    ----------
    frame, name, roi, bin
        As for :func:`measure`. ``bin="auto"`` is resolved once for the whole ROI.
    grid : (rows, cols)
        Positive integers, at most the ROI's height and width in pixels.

    Returns
    -------
    ndarray of float64, shape (rows, cols)
    """
    _validate.check_name(name, MEASURES)
    img = _validate.check_frame(frame)
    height, width = img.shape[:2]
    x, y, w, h = _validate.check_roi(roi, height, width)
    rows, cols = _validate.check_grid(grid, w, h)
    k = _validate.check_bin(bin)
    if k == "auto":
        k = resolve_bin(frame, (x, y, w, h))  # the frame as given: img is a 3-D view
    result = np.empty((rows, cols), np.float64)
    ys = [r * h // rows for r in range(rows + 1)]
    xs = [c * w // cols for c in range(cols + 1)]
    if k == 1:
        # one pass of the tile kernel over the whole ROI
        geo = _run.geometry(height, width, (x, y, w, h), 1)
        if img.dtype.kind == "f":
            _run.check_finite(img, geo)
        cells = _run.run(name, img, geo, xs, ys)
        for r in range(rows):
            for c in range(cols):
                n = (ys[r + 1] - ys[r]) * (xs[c + 1] - xs[c])
                result[r, c] = _run.finish(name, cells[r, c], n, 1)
        return result
    # binned: each tile is its own binned crop (as measure() bins a tile ROI), one call each
    for r in range(rows):
        for c in range(cols):
            tile = (x + xs[c], y + ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r])
            _validate.check_bin_fits(k, tile[2], tile[3], param="bin (for a grid tile)")
            geo = _run.geometry(height, width, tile, k)
            if img.dtype.kind == "f":
                _run.check_finite(img, geo)
            result[r, c] = _run.finish(name, _run.run(name, img, geo)[0, 0], geo[7] * geo[8], k)
    return result
