"""The one path every public measure takes: validate, choose bin, run the kernel, finish.

Geometry passed to the kernels (see :mod:`focuscam.measures._kernels`):
``(oy, ox, k, GH, GW, ry, rx, rh, rw)``. With ``bin=1`` the virtual gray image is the whole
frame and the region is the ROI, so pixels just outside the ROI are real neighbours. With
``bin=k > 1`` the virtual image is the k x k binned gray crop of the ROI (remainder rows and
columns dropped) and the region is all of it, so neighbours reflect at the crop edges.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from . import _validate
from .autobin import resolve_bin_for

SQRT2 = math.sqrt(2.0)
#: Measures computed from a spectrum of the gray region (numpy FFT), not by a streaming kernel.
SPECTRAL = ("fftb",)


def geometry(height: int, width: int, roi: tuple[int, int, int, int], k: int) -> tuple[int, ...]:
    """Kernel geometry for a ``roi`` of a ``height x width`` frame with bin factor ``k``."""
    x, y, w, h = roi
    if k == 1:
        return (0, 0, 1, height, width, y, x, h, w)
    gh, gw = h // k, w // k
    return (y, x, k, gh, gw, 0, 0, gh, gw)


def prepare(frame: object, roi: object, bin: object) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate a frame, ROI and bin; return the 3-D frame and the kernel geometry."""
    img = _validate.check_frame(frame)
    height, width = img.shape[:2]
    box = _validate.check_roi(roi, height, width)
    k = _validate.check_bin(bin)
    if k == "auto":
        k = resolve_bin_for(img.shape, img.dtype, box)
    _validate.check_bin_fits(k, box[2], box[3])
    geo = geometry(height, width, box, k)
    if img.dtype.kind == "f":
        check_finite(img, geo)
    return img, geo


def check_finite(img: np.ndarray, geo: tuple[int, ...]) -> None:
    """Float frames: no NaN or inf in the pixels the kernel reads (region plus a 2-pixel halo)."""
    from ._kernels import all_finite

    oy, ox, k, _gh, _gw, ry, rx, rh, rw = geo
    height, width, nch = img.shape
    if k == 1:
        y0, y1 = max(ry - 2, 0), min(ry + rh + 2, height)
        x0, x1 = max(rx - 2, 0), min(rx + rw + 2, width)
    else:
        y0, y1, x0, x1 = oy, oy + rh * k, ox, ox + rw * k
    if not all_finite(img.reshape(height, width * nch), y0, y1, x0 * nch, x1 * nch):
        raise InputError(
            f"frame has NaN or inf values in rows {y0}..{y1 - 1}, columns {x0}..{x1 - 1} "
            "(the ROI and its border): replace them first, e.g. np.nan_to_num(frame)"
        )


#: Measure name -> the kernel module of its family (imported on first use of the family).
_FAMILY = {
    "lapv": "_kernels_lap",
    "lapm": "_kernels_lap",
    "lapd": "_kernels_lap",
    "teng": "_kernels_grad",
    "tenv": "_kernels_grad",
    "bren": "_kernels_grad",
    "glvn": "_kernels_stat",
    "vola": "_kernels_stat",
    "vol5": "_kernels_stat",
    "wavs": "_kernels_freq",
}
_KERNELS: dict = {}


def _load_kernels(name: str) -> dict:
    """Import the family module of measure ``name`` once; add its dispatchers to ``_KERNELS``.

    Only the families a process uses are imported, and numba loads a kernel from its cache only
    at its first call: a command scoring one measure loads none of the others.
    """
    import importlib

    module = importlib.import_module(f"{__package__}.{_FAMILY[name]}")
    _KERNELS.update(module.KERNELS)
    _KERNELS.update(module.HOT)
    return _KERNELS


def run(name: str, img: np.ndarray, geo: tuple[int, ...], xs=None, ys=None) -> np.ndarray:
    """Run kernel ``name`` over a region (or a grid of tiles of it) in one pass.

    ``xs``/``ys``: tile boundaries relative to the region (default: one tile, the region).
    Returns the raw accumulators, shape ``(len(ys) - 1, len(xs) - 1, 4)``.
    """
    k = _KERNELS if name in _KERNELS or name in SPECTRAL else _load_kernels(name)
    height, width, nch = img.shape
    flat = img.reshape(height, width * nch)
    rh, rw = geo[7], geo[8]
    xs = np.array([0, rw] if xs is None else xs, np.int64)
    ys = np.array([0, rh] if ys is None else ys, np.int64)
    is_float = img.dtype.kind == "f"
    wide = is_float or name == "tenv"
    if name in SPECTRAL:
        from .spectral import band_energy_tiles

        return band_energy_tiles(flat, nch, geo, xs, ys)
    cells = np.zeros((len(ys) - 1, len(xs) - 1, 4), np.float64 if wide else np.int64)
    if name in ("lapv", "teng") and geo[2] == 1 and img.dtype == np.uint8:
        k[f"{name}_u8"](flat, nch, geo, np.empty((3, width if nch == 3 else 1), np.uint8), cells, xs, ys)
        return cells
    if name == "lapv" and geo[2] == 1 and img.dtype == np.uint16 and nch == 1:
        k["lapv_u16_gray"](flat, nch, geo, None, cells, xs, ys)
        return cells
    if name == "glvn" and geo[2] == 1 and (img.dtype == np.uint8 or (img.dtype == np.uint16 and nch == 1)):
        k["glvn_int"](flat, nch, geo, np.empty((1, width if nch == 3 else 1), img.dtype), cells, xs, ys)
        return cells
    ring = np.empty((5, rw + 4), np.float64 if is_float else np.int32)
    vals = np.empty((2, rw), np.float64 if wide else np.int64)
    k[name](flat, nch, geo, ring, vals, cells, xs, ys)
    return cells


def _word(out, i: int) -> int | float:
    """The value of the two-word accumulator at ``out[i:i+2]`` (an array or a list)."""
    a, b = out[i], out[i + 1]
    if isinstance(a, float):  # numpy float64 is a float too
        return float(a) + float(b)
    return int(a) + (int(b) << 62)


def _variance(s1: int | float, s2: int | float, n: int) -> float:
    if isinstance(s1, int) and isinstance(s2, int):
        return (n * s2 - s1 * s1) / (n * n)  # exact integers, one rounding
    return max(s2 / n - (s1 / n) ** 2, 0.0)


def finish(name: str, out: np.ndarray, n: int, k: int) -> float:
    """Turn one tile's accumulators (``n`` binned pixels, bin ``k``) into the measure of the
    mean-binned image."""
    k2 = k * k
    if not isinstance(out, list):  # Python ints/floats: exact, and much faster to index than an array
        out = out.tolist()
    if name == "lapv":
        s1 = out[0]
        return _variance(s1, _word(out, 1), n) / (k2 * k2)
    if name == "lapm":
        return _word(out, 0) / n / k2
    if name == "lapd":
        return (_word(out, 0) + _word(out, 2) / SQRT2) / n / k2
    if name in ("teng", "bren"):
        return _word(out, 0) / n / (k2 * k2)
    if name == "tenv":
        return _variance(float(out[0]), float(out[1]), n) / (k2**4)
    if name == "glvn":
        s1, s2 = _word(out, 0), _word(out, 2)
        if s1 == 0:
            return 0.0
        return _variance(s1, s2, n) / abs(s1 / n) / k2
    if name == "vola":
        total = out[0]
        return total / n / (k2 * k2)
    if name == "wavs":
        return _word(out, 0) / 4 / (k2 * k2)
    if name == "vol5":
        s1, sp = _word(out, 0), _word(out, 2)
        if isinstance(s1, int) and isinstance(sp, int):
            return (n * sp - 2 * s1 * s1) / (n * n) / (k2 * k2)  # exact integers, one rounding
        return (sp / n - 2 * (s1 / n) ** 2) / (k2 * k2)
    if name in SPECTRAL:
        return float(out[0]) / (k2 * k2)  # block sums -> block means: the energy scales by k**4
    raise AssertionError(f"no finish rule for {name}")  # pragma: no cover - names are validated


def compute(name: str, frame: object, roi: object = None, bin: object = 1) -> float:
    """Validate, run and finish one measure: the body of every public wrapper (the common
    cases of the hot kernels by the short path of :mod:`._fast`, with the same kernels)."""
    score = _fast.try_compute(name, frame, roi, bin)
    if score is not None:
        return score
    img, geo = prepare(frame, roi, bin)
    return finish(name, run(name, img, geo)[0, 0], geo[7] * geo[8], geo[2])


from . import _fast  # noqa: E402 - _fast uses this module's kernel table
