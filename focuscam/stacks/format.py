"""The "focuscam-stack/1" format: constants, the stack.json rules, and value checks.

:func:`parse_meta` validates a stack.json document (already decoded) and its frame entries;
:func:`check_entry` validates one frame entry (of stack.json or of the recording journal). Both
raise :class:`~focuscam.errors.StackError` with one line naming the file, the key and the fix.
The checks of arrays and header values used by the writers live here too, so the reader and the
writers share one definition of a valid stack.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, StackError
from .safety import MAX_FRAMES, check_name

__all__ = [
    "FORMAT",
    "IMAGE_EXTENSIONS",
    "JOURNAL",
    "KINDS",
    "VIDEO_EXTENSIONS",
    "Z_UNITS",
    "check_entry",
    "parse_meta",
]

#: The format string every stack.json carries.
FORMAT = "focuscam-stack/1"
#: Allowed values of ``kind``.
KINDS = ("z-sweep", "sequence")
#: Allowed values of ``z_unit``.
Z_UNITS = ("mm", "um", "step", "index", None)
#: File suffixes read as images in a plain image folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".webp")
#: File suffixes read as videos.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
#: The recording journal beside stack.json (one frame entry per line; see FORMAT.md).
JOURNAL = "journal.ndjson"
TIFF_EXTENSIONS = (".tif", ".tiff")
RESERVED_KEYS = ("format", "name", "kind", "description", "z_unit", "frames", "truth")
FIX = f"fix it to follow {FORMAT} (see FORMAT.md)"


def natural_key(name: str) -> list[Any]:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def normalise_pixels(img: np.ndarray) -> np.ndarray:
    """Drop an alpha channel and a trailing singleton channel, so frames are 2-D or HxWx3."""
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    return img


def is_number(value: Any) -> bool:
    """True for a finite int or float (not a bool); huge ints (10**400) are not finite here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _short(value: Any) -> str:
    try:
        return json.dumps(value)[:60]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def parse_meta(meta: Any, jpath: Path) -> list[dict[str, Any]]:
    """Validate a decoded stack.json; return its frame entries (each checked by :func:`check_entry`).

    ``frames`` may be empty here only when a journal follows (the caller checks that the stack
    as a whole has at least one frame).
    """
    if not isinstance(meta, dict):
        raise StackError(f"{jpath} must hold a JSON object, not {type(meta).__name__}: {FIX}")
    for key in ("format", "name", "kind", "z_unit", "frames"):
        if key not in meta:
            raise StackError(f"{jpath} has no {key!r} key: {FIX}")
    if meta["format"] != FORMAT:
        raise StackError(f"{jpath} has format {_short(meta['format'])}, expected {FORMAT!r}: {FIX}")

    def bad(key: str, want: str) -> StackError:
        return StackError(f"{jpath}: {key!r} must be {want}, not {_short(meta.get(key))}: {FIX}")

    if not isinstance(meta["name"], str):
        raise bad("name", "a string")
    if meta["kind"] not in KINDS:
        raise bad("kind", " or ".join(repr(k) for k in KINDS))
    if meta["z_unit"] not in Z_UNITS:
        raise bad("z_unit", '"mm", "um", "step", "index" or null')
    if not isinstance(meta.get("description", ""), str):
        raise bad("description", "a string")
    if meta.get("modality") is not None and not isinstance(meta["modality"], str):
        raise bad("modality", "a string")
    truth = meta.get("truth")
    if truth is not None and (
        not isinstance(truth, dict)
        or not is_number(truth.get("z"))
        or not is_number(truth.get("tolerance"))
        or truth["tolerance"] < 0
        or not isinstance(truth.get("basis", ""), str)
    ):
        raise bad("truth", 'null or {"z": number, "tolerance": number >= 0, "basis": string}')
    entries = meta["frames"]
    if not isinstance(entries, list):
        raise bad("frames", 'a non-empty list of {"file": string, "z": number or null}')
    if len(entries) > MAX_FRAMES:
        raise StackError(
            f"{jpath} lists {len(entries)} frames, more than the {MAX_FRAMES} a stack may hold: "
            "split the recording into several stacks"
        )
    return [check_entry(entry, f"{jpath}: frames[{k}]") for k, entry in enumerate(entries)]


def check_entry(entry: Any, where: str) -> dict[str, Any]:
    """Check one frame entry ``{"file": str, "z": number or null, "t"?: number}``; return it."""
    if not isinstance(entry, dict):
        raise StackError(f'{where} must be {{"file": string, "z": number or null}}: {FIX}')
    if "file" not in entry or "z" not in entry:
        missing = "file" if "file" not in entry else "z"
        raise StackError(f"{where} has no {missing!r} key: {FIX}")
    name = entry["file"]
    problem = check_name(name)
    if problem:
        raise StackError(f"{where}: 'file' {problem}: {FIX}")
    zk = entry["z"]
    if zk is not None and not is_number(zk):
        raise StackError(f"{where}: 'z' must be a finite number or null, not {_short(zk)}: {FIX}")
    tk = entry.get("t")
    if tk is not None and not is_number(tk):
        raise StackError(f"{where}: 't' must be a number of seconds or absent, not {_short(tk)}: {FIX}")
    return entry


# ---------------------------------------------------------------------- checks for writers
def _array(img: Any, param: str) -> np.ndarray:
    """The pixels of an array or Frame that is 2-D gray or HxWx3."""
    if hasattr(img, "pixels") and not isinstance(img, np.ndarray):
        img = img.pixels
    if not isinstance(img, np.ndarray):
        raise InputError(f"{param} must be a numpy array, not {type(img).__name__}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputError(f"{param} has shape {img.shape}: give a 2-D gray or HxWx3 BGR image")
    return img


def check_pixels(img: Any, param: str) -> np.ndarray:
    """A frame a writer can save losslessly: 2-D gray or HxWx3, uint8 or uint16, non-empty."""
    img = _array(img, param)
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"{param} has dtype {img.dtype}: stacks are saved as lossless PNG, give uint8 or uint16 frames"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise InputError(f"{param} is empty (shape {img.shape}): give a non-empty image")
    return img


def check_frames(frames: Iterable[Any], param: str) -> list[np.ndarray]:
    """In-memory frames: 2-D gray or HxWx3, uint8/uint16/float32, all the same shape."""
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise InputError(
                f"{param} has shape {frames.shape}: give a list of frames or an array N x H x W (x 3)"
            )
        frames = list(frames)
    arrays: list[np.ndarray] = []
    for k, img in enumerate(frames):
        img = _array(img, f"{param}[{k}]")
        if img.dtype not in (np.uint8, np.uint16, np.float32):
            raise InputError(f"{param}[{k}] has dtype {img.dtype}: give uint8, uint16 or float32 frames")
        if arrays and img.shape != arrays[0].shape:
            raise InputError(
                f"{param}[{k}] has shape {img.shape} but {param}[0] has {arrays[0].shape}: "
                "every frame must have the same size and channels"
            )
        arrays.append(img)
    if not arrays:
        raise InputError(f"{param} is empty: give at least one frame")
    return arrays


def check_z(z: Any, n: int, z_unit: str | None) -> tuple[np.ndarray, str | None]:
    """One finite-or-NaN z per frame in ``z_unit`` (default: the index, unit "index")."""
    if z is None:
        return np.arange(n, dtype=float), z_unit or "index"
    try:
        z_arr = np.array([np.nan if v is None else v for v in z], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError("z must be a sequence of numbers (or None for unknown) in z_unit") from None
    if z_arr.shape != (n,):
        raise InputError(f"z has {z_arr.size} values for {n} frames: give one z per frame")
    if np.any(np.isinf(z_arr)):
        raise InputError("z holds an infinite value: give finite positions (or None for unknown)")
    unit = "um" if z_unit is None else z_unit
    if unit not in Z_UNITS:
        raise InputError(f"z_unit {z_unit!r} is not one of 'mm', 'um', 'step', 'index' or None")
    return z_arr, unit


def check_header(name: Any, kind: Any, z_unit: Any, truth: Any, extra: Any) -> None:
    """The stack.json header values a writer is given."""
    if not isinstance(name, str) or not name:
        raise InputError(f"name {name!r} must be a non-empty string")
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} must be 'z-sweep' or 'sequence'")
    if z_unit not in Z_UNITS:
        raise InputError(f"z_unit {z_unit!r} must be 'mm', 'um', 'step', 'index' or None")
    if truth is not None and (
        not isinstance(truth, dict) or not is_number(truth.get("z")) or not is_number(truth.get("tolerance"))
    ):
        raise InputError('truth must be None or {"z": number, "tolerance": number, "basis": str}')
    if extra is not None:
        if not isinstance(extra, dict):
            raise InputError("extra must be a dict of additional stack.json keys")
        clash = sorted(set(extra) & set(RESERVED_KEYS))
        if clash:
            raise InputError(f"extra may not set {clash}: pass them as save_stack arguments")
