"""Numba kernels of :mod:`focuscam.synth`: photo-electrons to digital numbers in one pass.

Decorator policy as for the measures (``@njit(cache=True, nogil=True)``; see
:mod:`focuscam.measures._kernels`): no validation, no allocation (the caller passes ``out``).
Each kernel does exactly the floating-point operations of the numpy expression it replaces, in
the same order, so a seeded stack is the same bit for bit (``tests/test_samples.py``): numpy
made four passes over float64 copies of a frame (scale, round, clip, cast), this makes one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .measures._compile import install_notice

__all__ = ["dn_u8", "dn_u16", "warmup"]

install_notice()  # a compile (cache miss) prints one line on a terminal, never silently


@njit(cache=True, nogil=True)
def dn_u8(electrons, scale, out):  # pragma: no cover - compiled
    """``out = clip(rint(electrons * scale), 0, 255)`` as uint8 (C-contiguous, same size)."""
    e = electrons.reshape(electrons.size)
    o = out.reshape(out.size)
    for i in range(e.size):
        v = np.rint(np.float64(e[i]) * scale)
        if v < 0.0:
            v = 0.0
        elif v > 255.0:
            v = 255.0
        o[i] = np.uint8(v)


@njit(cache=True, nogil=True)
def dn_u16(electrons, offset, gain, out):  # pragma: no cover - compiled
    """``out = clip(rint(offset + electrons * gain), 0, 65535)`` as uint16 (C-contiguous)."""
    e = electrons.reshape(electrons.size)
    o = out.reshape(out.size)
    for i in range(e.size):
        v = np.rint(offset + np.float64(e[i]) * gain)
        if v < 0.0:
            v = 0.0
        elif v > 65535.0:
            v = 65535.0
        o[i] = np.uint16(v)


def warmup() -> int:
    """Compile (or load from the cache) both kernels for the electrons' two dtypes; the count."""
    for dtype in (np.int64, np.float64):
        electrons = np.arange(6, dtype=dtype).reshape(2, 3)
        dn_u8(electrons, 1.0, np.empty((2, 3), np.uint8))
        dn_u16(electrons, 100.0, 1.0, np.empty((2, 3), np.uint16))
    return 4
