"""Hot-path numba kernels for one measure and layout each (issue 15): no ring, no copy.

:func:`glvn_int`: GLVN of uint8 (gray or BGR) and uint16 gray frames with ``bin=1``. The sums
of ``G`` and ``G**2`` of each tile row segment are taken in one pass in narrow unsigned lanes
(uint32; uint64 for the squares of 16-bit pixels), flushed into int64 every
:data:`BLOCK` columns (exact: 2048 * 255**2 < 2**32; a row of 16-bit squares stays below 2**62) and then into
the same two-word accumulators as :func:`._kernels.glvn`, so the result is bit-exact with it.
Gray rows are read in place; BGR rows are converted once each (cv2's Q15 weights) into one
uint8 row buffer. Same conventions and decorator policy as :mod:`._kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import _acc, _gray_row_u8, _tile_row
from ._prefetch import AHEAD, prefetch_row

#: Columns summed in narrow lanes before a flush into int64.
BLOCK = 2048


@njit(cache=True, nogil=True, inline="always")
def _block_u8(blk):
    """``(sum, sum of squares)`` of up to :data:`BLOCK` uint8 values, in uint32 lanes."""
    a = np.uint32(0)
    q = np.uint32(0)
    for c in range(len(blk)):
        v = np.uint32(blk[c])
        a = np.uint32(a + v)
        q = np.uint32(q + v * v)
    return np.int64(a), np.int64(q)


@njit(cache=True, nogil=True, inline="always")
def _block_u16(blk):
    """``(sum, sum of squares)`` of up to :data:`BLOCK` uint16 values (squares in uint64)."""
    a = np.uint32(0)
    q = np.uint64(0)
    for c in range(len(blk)):
        v = np.uint32(blk[c])
        a = np.uint32(a + v)
        q = np.uint64(q + np.uint64(v * v))
    return np.int64(a), np.int64(q)


@njit(cache=True, nogil=True, inline="always")
def _sums(seg, out, wide):
    """Add ``sum(seg)`` and ``sum(seg**2)`` into the two-word accumulators ``out[0:2]``, ``out[2:4]``."""
    s1 = np.int64(0)
    s2 = np.int64(0)
    n = len(seg)
    for b0 in range(0, n, BLOCK):
        blk = seg[b0 : min(b0 + BLOCK, n)]
        a, q = _block_u16(blk) if wide else _block_u8(blk)
        s1 += a
        s2 += q
    _acc(out, 0, s1)
    _acc(out, 2, s2)


@njit(cache=True, nogil=True)
def glvn_int(img, nch, geo, ring, cells, xs, ys):
    """cells[..., 0:2] += sum(G), cells[..., 2:4] += sum(G**2) (uint8 gray/BGR, uint16 gray)."""
    ry, rx, rh, rw = geo[5], geo[6], geo[7], geo[8]
    ntc = len(xs) - 1
    ti = 0
    wide = img.itemsize == 2
    strided = rw < geo[4]  # an ROI narrower than the frame: rows are not contiguous, prefetch them
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        if strided:
            prefetch_row(img, r + AHEAD, rx * nch, (rx + rw) * nch)
        if nch == 1:
            row = img[r]
        else:
            _gray_row_u8(img, r, rx, rx + rw, ring[0])
            row = ring[0]
        for tj in range(ntc):
            _sums(row[rx + xs[tj] : rx + xs[tj + 1]], cells[ti, tj], wide)
