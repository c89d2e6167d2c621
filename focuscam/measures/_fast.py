"""The short Python path of the hot measures: ``lapv``, ``teng``, ``glvn`` on integer frames.

A camera frame arrives with the caches full of other work, and then the Python around a
kernel costs more than it does in a loop: on a 2-core AMD EPYC VM (2026-12-04), after 16 MB
of other reads, :func:`focuscam.measures.measure` of a 16 x 16 frame took 65 us (9 us when
repeated), about as much as the kernel of a whole 1080p frame; every distinct Python and
numpy call touched cold (each ``np.array``/``np.zeros`` 13-19 us, ``dtype`` comparisons 16
us, an ABC ``isinstance`` 9 us). :func:`try_compute` takes the common case (a C-contiguous
uint8 gray/BGR or uint16 gray ndarray, ``roi`` None or a tuple of four ints inside the frame,
``bin`` the int 1) with a few identity and integer tests, tile bounds cached per ROI size and
one accumulator buffer per thread, and calls the hot kernel directly; anything else returns
``None`` and takes the general path of :mod:`._run`, which validates it (and raises the
errors). Both paths run the same kernels: the scores are identical.
"""

from __future__ import annotations

import threading

import numpy as np

from . import _bands, _run

_U8, _U16 = np.dtype(np.uint8), np.dtype(np.uint16)
#: (measure, uint16?) -> hot kernel name, for the frames the hot kernels take (uint16: gray).
_HOT = {("lapv", False): "lapv_u8", ("lapv", True): "lapv_u16_gray", ("teng", False): "teng_u8"}
_HOT.update({("glvn", False): "glvn_int", ("glvn", True): "glvn_int"})
#: ``(rw, rh)`` -> the one-tile bounds ``xs``, ``ys`` (read-only; at most :data:`_MAX_SIZES`).
_BOUNDS: dict = {}
_MAX_SIZES = 64
#: Per thread: the ``(1, 1, 4)`` accumulators and the row buffers by (kernel, width).
_TLS = threading.local()
_DUMMY = {False: np.empty((3, 1), np.uint8), True: np.empty((1, 1), np.uint16)}


def _bounds(rw: int, rh: int):
    b = _BOUNDS.get((rw, rh))
    if b is None:
        if len(_BOUNDS) >= _MAX_SIZES:
            _BOUNDS.clear()
        b = _BOUNDS[rw, rh] = (np.array([0, rw], np.int64), np.array([0, rh], np.int64))
    return b


def _buffers():
    """This thread's accumulators and row-buffer cache."""
    try:
        return _TLS.cells, _TLS.rings
    except AttributeError:
        _TLS.cells, _TLS.rings = np.zeros((1, 1, 4), np.int64), {}
        return _TLS.cells, _TLS.rings


def try_compute(name: str, frame: object, roi: object, bin: object) -> float | None:
    """The score of ``name`` by the short path, or ``None`` when the case is not one it takes."""
    if type(frame) is not np.ndarray or type(bin) is not int or bin != 1:
        return None
    dt = frame.dtype
    wide = dt is _U16
    hot = _HOT.get((name, wide))
    if hot is None or not (wide or dt is _U8):
        return None
    shape = frame.shape
    if len(shape) == 2:
        nch = 1
    elif len(shape) == 3 and shape[2] == 3 and not wide:
        nch = 3
    else:
        return None
    height, width = shape[0], shape[1]
    if height < 1 or width < 1 or not frame.flags.c_contiguous:
        return None
    if roi is None:
        x, y, w, h = 0, 0, width, height
    elif type(roi) is tuple and len(roi) == 4:
        x, y, w, h = roi
        if not (type(x) is int and type(y) is int and type(w) is int and type(h) is int):
            return None
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
            return None
    else:
        return None
    kernel = _run._KERNELS.get(hot) or _run._load_kernels(name)[hot]
    flat = frame.reshape(height, width * 3) if nch == 3 else frame
    nbands = _bands.band_count(h, w * nch * dt.itemsize)
    if nbands:

        def rows(r0: int, r1: int) -> list:
            return _sums(kernel, hot, flat, nch, height, width, x, r0, w, r1 - r0)

        return _run.finish(name, _bands.shared(rows, y, h, nbands), w * h, 1)
    return _run.finish(name, _sums(kernel, hot, flat, nch, height, width, x, y, w, h), w * h, 1)


def _sums(kernel, hot: str, flat, nch: int, height: int, width: int, x: int, y: int, w: int, h: int) -> list:
    """The hot kernel's accumulators over rows ``y .. y + h - 1`` of the region, in this
    thread's buffers (as Python ints)."""
    cells, rings = _buffers()
    if nch == 3:
        ring = rings.get((hot, width))
        if ring is None:
            if len(rings) >= _MAX_SIZES:
                rings.clear()
            ring = rings[hot, width] = np.empty((1 if hot == "glvn_int" else 3, width), np.uint8)
    else:
        ring = None if hot == "lapv_u16_gray" else _DUMMY[flat.dtype is _U16]
    xs, ys = _bounds(w, h)
    cells.fill(0)
    kernel(flat, nch, (0, 0, 1, height, width, y, x, h, w), ring, cells, xs, ys)
    return cells[0, 0].tolist()
