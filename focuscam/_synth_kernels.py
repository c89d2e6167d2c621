"""Numba kernels of :mod:`focuscam.synth`: photo-electrons to digital numbers in one pass.

Decorator policy as for the measures (``@njit(cache=True, nogil=True)``; see
:mod:`focuscam.measures._kernels`): no validation, no allocation (the caller passes ``out``).
The kernel does exactly the floating-point operations of the numpy expressions it replaces, in
the same order, so a seeded stack is the same bit for bit (``tests/test_samples.py``): numpy
made four passes over float64 copies of a frame (scale, round, clip, cast), this makes one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .measures._compile import install_notice

__all__ = ["digital_numbers", "warmup"]

install_notice()  # a compile (cache miss) prints one line on a terminal, never silently


@njit(cache=True, nogil=True)
def digital_numbers(electrons, offset, gain, top, out):  # pragma: no cover - compiled
    """``out = clip(rint(offset + electrons * gain), 0, top)`` in ``out``'s integer dtype (both
    C-contiguous, the same size). With ``offset`` 0 this is ``rint(electrons * gain)`` exactly:
    adding 0.0 changes no finite value but the sign of a zero, which the cast drops."""
    e = electrons.reshape(electrons.size)
    o = out.reshape(out.size)
    for i in range(e.size):
        v = np.rint(offset + np.float64(e[i]) * gain)
        if v < 0.0:
            v = 0.0
        elif v > top:
            v = top
        o[i] = v


def warmup() -> int:
    """Compile (or load from the cache) the kernel for both electron and output dtypes; the count."""
    for dtype in (np.int64, np.float64):
        electrons = np.arange(6, dtype=dtype).reshape(2, 3)
        for out_dtype, top in ((np.uint8, 255.0), (np.uint16, 65535.0)):
            digital_numbers(electrons, 0.0, 1.0, top, np.empty((2, 3), out_dtype))
    return 4
