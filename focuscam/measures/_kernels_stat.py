"""numba kernels of the statistics family: ``glvn``, ``vola``, ``vol5``.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.

Hot path :func:`glvn_int`: GLVN of uint8 (gray or BGR) and uint16 gray frames with ``bin=1``.
The sums of ``G`` and ``G**2`` of each tile row segment are taken in one pass by the explicit
vector loops of :mod:`._simd` (int64 byte sums, int32 pair sums of squares, exact for
:data:`BLOCK` columns per call) and added into the same two-word accumulators as
:func:`glvn`, so the result is bit-exact with it. Gray rows are read in place; BGR rows are
converted once each (cv2's Q15
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
from ._simd import row_sums


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


#: Columns per call of the vector loops (exact in their int32 lanes up to 2**16, see ._simd).
BLOCK = 1 << 16


@njit(cache=True, nogil=True, inline="always")
def _sums(row, a, b, out):
    """Add ``sum(row[a:b])`` and ``sum(row[a:b]**2)`` into the two-word accumulators ``out[0:2]``
    and ``out[2:4]``.

    Blocks of :data:`BLOCK` values go to the explicit vector loop :func:`._simd.row_sums`
    (uint8: ``vpsadbw`` sums and ``vpmaddwd`` squares, 32 values per vector; uint16: 16 per
    vector, the squares from the bytes ``v = 256 h + l``); fewer than one vector are summed here.
    """
    for b0 in range(a, b, BLOCK):
        b1 = min(b0 + BLOCK, b)
        s1, s2 = row_sums(row, b0, b1 - b0)
        if b1 - b0 < 32 // row.itemsize:
            for c in range(b0, b1):
                v = np.int64(row[c])
                s1 += v
                s2 += v * v
        _acc(out, 0, s1)
        _acc(out, 2, s2)


@njit(cache=True, nogil=True)
def glvn_int(img, nch, geo, ring, cells, xs, ys):
    """cells[..., 0:2] += sum(G), cells[..., 2:4] += sum(G**2) (uint8 gray/BGR, uint16 gray)."""
    ry, rx, rh, rw = geo[5], geo[6], geo[7], geo[8]
    ntc = len(xs) - 1
    ti = 0
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
            _sums(row, rx + xs[tj], rx + xs[tj + 1], cells[ti, tj])


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"glvn": glvn, "vola": vola, "vol5": vol5}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT = {"glvn_int": glvn_int}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
