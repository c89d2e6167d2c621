"""Input checks shared by every public measure: frame, ROI, measure name, bin and grid.

Each check raises :class:`focuscam.errors.InputError` (a ``ValueError``) whose message names
the parameter and the fix. ndim is checked before shape, shape before dtype.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from ..errors import InputError

#: Frame dtypes the measures accept.
DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
#: Largest bin factor accepted (keeps binned 16-bit sums inside int32 in the kernels).
MAX_BIN = 16


def check_frame(frame: object, param: str = "frame") -> np.ndarray:
    """Return ``frame`` as a 3-D ``(H, W, C)`` view (C = 1 gray or 3 BGR), C-contiguous.

    A non-contiguous frame is copied once (``np.ascontiguousarray``); contiguous frames are
    never copied.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(
            f"{param} must be a numpy array (H x W gray or H x W x 3 BGR), got {type(frame).__name__}: "
            "pass the image as read by cv2.imread or a camera"
        )
    if frame.ndim not in (2, 3):
        raise InputError(
            f"{param} has {frame.ndim} dimensions, shape {frame.shape}: give a 2-D gray frame (H x W) "
            "or a 3-D BGR frame (H x W x 3)"
        )
    if frame.ndim == 3 and frame.shape[2] != 3:
        fix = {
            1: "drop the last axis with frame[..., 0]",
            4: "convert with cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)",
        }.get(frame.shape[2], "give 1 (as H x W) or 3 (BGR) channels")
        raise InputError(f"{param} has {frame.shape[2]} channels (shape {frame.shape}): {fix}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise InputError(f"{param} is empty (shape {frame.shape}): give a frame with at least 1 x 1 pixels")
    if frame.dtype not in DTYPES:
        raise InputError(
            f"{param} has dtype {frame.dtype}: give uint8, uint16 or float32 (e.g. frame.astype(np.float32))"
        )
    if not frame.flags.c_contiguous:
        frame = np.ascontiguousarray(frame)
    if frame.ndim == 2:
        frame = frame.reshape(frame.shape[0], frame.shape[1], 1)
    return frame


def show_roi(roi: object) -> str:
    """A ROI as messages print it: ``x,y,w,h`` (the command line's syntax) for four values."""
    if isinstance(roi, tuple | list) and len(roi) == 4:
        return ",".join(str(v) for v in roi)
    return repr(roi)


def check_roi(roi: object, height: int, width: int, param: str = "roi") -> tuple[int, int, int, int]:
    """Return ``(x, y, w, h)`` inside a ``height x width`` frame; ``None`` means the whole frame."""
    if roi is None:
        return 0, 0, width, height
    if isinstance(roi, str) or not isinstance(roi, Iterable):
        raise InputError(
            f"{param} {show_roi(roi)} is not (x, y, w, h): give a tuple of four non-negative integers "
            "or focuscam.ROI(x, y, w, h)"
        )
    values = list(roi)
    shown = show_roi(roi)
    if len(values) != 4:
        raise InputError(
            f"{param} {shown} has {len(values)} values: give exactly four, (x, y, w, h) in pixels"
        )
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        raise InputError(f"{param} {shown} has non-integer values: give x, y, w, h as integers in pixels")
    x, y, w, h = (int(v) for v in values)
    if x < 0 or y < 0:
        raise InputError(f"{param} {shown} has a negative origin: x and y must be >= 0")
    if w <= 0 or h <= 0:
        raise InputError(f"{param} {shown} is empty: width and height must be >= 1 pixel")
    if x + w > width or y + h > height:
        raise InputError(
            f"{param} {shown} leaves the {width}x{height} frame (x + w <= {width}, y + h <= {height}): "
            "shrink or move it"
        )
    return x, y, w, h


def check_name(name: object, known: Iterable[str], param: str = "name") -> str:
    """Return the measure name; unknown names list the known ones."""
    if type(name) is str and name in known:  # the common case without sorting (a cold call is costly)
        return name
    names = sorted(known)
    if not isinstance(name, str) or name not in names:
        raise InputError(f"{param} {name!r} is not a focus measure: use one of {', '.join(names)}")
    return name


def check_bin(value: object, param: str = "bin") -> int | str:
    """Return a bin factor 1..MAX_BIN, or the string ``"auto"``."""
    if isinstance(value, str):
        if value == "auto":
            return value
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if 1 <= int(value) <= MAX_BIN:
            return int(value)
    raise InputError(f"{param} {value!r} is not valid: give an integer 1..{MAX_BIN} or 'auto'")


def check_bin_fits(k: int, w: int, h: int, param: str = "bin") -> None:
    """A bin factor must leave at least one binned pixel in the ROI."""
    if k > w or k > h:
        raise InputError(
            f"{param} {k} is larger than the {w}x{h} ROI: use a bin <= {min(w, h)} or a bigger ROI"
        )


def check_grid(grid: object, w: int, h: int, param: str = "grid") -> tuple[int, int]:
    """Return ``(rows, cols)``: positive integers with every tile at least 1 pixel."""
    if isinstance(grid, str) or not isinstance(grid, Iterable):
        raise InputError(f"{param} {grid!r} is not (rows, cols): give two positive integers, e.g. (3, 4)")
    values = list(grid)
    if len(values) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise InputError(f"{param} {grid!r} is not (rows, cols): give two positive integers, e.g. (3, 4)")
    rows, cols = (int(v) for v in values)
    if rows > h or cols > w:
        raise InputError(
            f"{param} {grid!r} has more tiles than the {w}x{h} ROI has pixels: "
            f"use rows <= {h} and cols <= {w}"
        )
    return rows, cols
