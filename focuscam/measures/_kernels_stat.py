"""numba kernels of the statistics family: ``glvn``, ``vola``, ``vol5``.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.

Hot path :func:`glvn_int`: GLVN of uint8 (gray or BGR) and uint16 gray frames with ``bin=1``.
The sums of ``G`` and ``G**2`` of each tile row segment are taken in one pass in narrow
unsigned lanes (uint32; uint64 for the squares of 16-bit pixels), flushed into int64 every
:data:`BLOCK` columns (exact: 2048 * 255**2 < 2**32; a row of 16-bit squares stays below
2**62) and then into the same two-word accumulators as :func:`glvn`, so the result is
bit-exact with it. Gray rows are read in place; BGR rows are converted once each (cv2's Q15
weights) into one uint8 row buffer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._compile import quick_cache_load
from ._kernels import (
    _acc,
    _advance,
    _cols,
    _gray_row_u8,
    _load_row,
    _prime,
    _sum_into,
    _sum_nonneg,
    _sumsq_nonneg,
    _tile_row,
)
from ._prefetch import AHEAD, prefetch_row


@njit(cache=True, nogil=True)
def glvn(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += sum(G), cells[..., 2:4] += sum(G**2) over the region (no neighbours)."""
    oy, ox, k, _gh, gw, ry, rx, rh, rw = geo
    buf = ring[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _load_row(img, nch, ry + i, oy, ox, k, gw, rx, rw, buf)
        _sum_nonneg(buf, xs, cells[ti], 0)
        _sumsq_nonneg(buf, xs, cells[ti], 2)


@njit(cache=True, nogil=True)
def vola(img, nch, geo, ring, vals, cells, xs, ys):
    """Vollath F4 both axes: cells[..., 0] += sum(G*(G[i+1,j]-G[i+2,j]) + G*(G[i,j+1]-G[i,j+2]))."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, _, mid, dn, dn2 = _advance(img, nch, geo, ring, i)
        _, d, _, _ = _cols(dn, rw)
        _, d2, _, _ = _cols(dn2, rw)
        _, m0, mr, mrr = _cols(mid, rw)
        for c in range(rw):
            m = m0[c]
            v[c] = m * (d[c] - d2[c]) + m * (mr[c] - mrr[c])
        _sum_into(v, xs, cells[ti], 0)


@njit(cache=True, nogil=True)
def vol5(img, nch, geo, ring, vals, cells, xs, ys):
    """Vollath F5 both axes: cells[..., 0:2] += sum(G), cells[..., 2:4] += sum(G*G[i,j+1] + G*G[i+1,j]).

    Integer frames give non-negative products (exact two-word sums); float frames plain sums.
    """
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, _, mid, dn, _ = _advance(img, nch, geo, ring, i)
        _, d, _, _ = _cols(dn, rw)
        _, m0, mr, _ = _cols(mid, rw)
        for c in range(rw):
            v[c] = m0[c] * (d[c] + mr[c])
        _sum_nonneg(m0, xs, cells[ti], 0)
        _sum_nonneg(v, xs, cells[ti], 2)


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
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        prefetch_row(img, r + AHEAD, rx * nch, (rx + rw) * nch)
        if nch == 1:
            row = img[r]
        else:
            _gray_row_u8(img, r, rx, rx + rw, ring[0])
            row = ring[0]
        for tj in range(ntc):
            _sums(row[rx + xs[tj] : rx + xs[tj + 1]], cells[ti, tj], wide)


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"glvn": glvn, "vola": vola, "vol5": vol5}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT = {"glvn_int": glvn_int}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
