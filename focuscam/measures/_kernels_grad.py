"""numba kernels of the gradient family: ``teng``, ``tenv``, ``bren``.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.
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
    _prime,
    _reflect,
    _sum_into,
    _sum_nonneg,
    _sumsq_nonneg,
    _tile_row,
)
from ._prefetch import AHEAD, prefetch_row
from ._simd import sobel_sq_u8


@njit(cache=True, nogil=True)
def teng(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += sum(Gx**2 + Gy**2) with 3x3 Sobel Gx, Gy."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        ul, u, ur, _ = _cols(up, rw)
        dl, d, dr, _ = _cols(dn, rw)
        ml, _, mr, _ = _cols(mid, rw)
        for c in range(rw):
            gx = (ur[c] + 2 * mr[c] + dr[c]) - (ul[c] + 2 * ml[c] + dl[c])
            gy = (dl[c] + 2 * d[c] + dr[c]) - (ul[c] + 2 * u[c] + ur[c])
            v[c] = gx * gx + gy * gy
        _sum_nonneg(v, xs, cells[ti], 0)


@njit(cache=True, nogil=True)
def tenv(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0] += sum(S), cells[..., 1] += sum(S**2), float64; S = Gx**2 + Gy**2 (Sobel).

    ``vals`` and ``cells`` are float64 here for every dtype (the fourth powers of 16-bit
    gradients do not fit int64).
    """
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        ul, u, ur, _ = _cols(up, rw)
        dl, d, dr, _ = _cols(dn, rw)
        ml, _, mr, _ = _cols(mid, rw)
        for c in range(rw):
            gx = (ur[c] + 2 * mr[c] + dr[c]) - (ul[c] + 2 * ml[c] + dl[c])
            gy = (dl[c] + 2 * d[c] + dr[c]) - (ul[c] + 2 * u[c] + ur[c])
            v[c] = np.float64(gx * gx + gy * gy)
        _sum_into(v, xs, cells[ti], 0)
        _sumsq_nonneg(v, xs, cells[ti], 1)


@njit(cache=True, nogil=True)
def bren(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += sum(max(|G[i,j+1]-G[i,j-1]|, |G[i+1,j]-G[i-1,j]|)**2)."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        _, u, _, _ = _cols(up, rw)
        _, d, _, _ = _cols(dn, rw)
        ml, _, mr, _ = _cols(mid, rw)
        for c in range(rw):
            big = max(abs(mr[c] - ml[c]), abs(d[c] - u[c]))
            v[c] = big * big
        _sum_nonneg(v, xs, cells[ti], 0)


# --- the teng hot path: uint8 gray or BGR, bin=1 -----------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _sobel_sq_at(up, mid, dn, gw, c):
    """``Gx**2 + Gy**2`` at column ``c`` of the ``mid`` row in int64, ends reflected (REFLECT_101)."""
    cl = _reflect(c - 1, gw)
    cr = _reflect(c + 1, gw)
    right = np.int64(up[cr]) + 2 * np.int64(mid[cr]) + dn[cr]
    left = np.int64(up[cl]) + 2 * np.int64(mid[cl]) + dn[cl]
    below = np.int64(dn[cl]) + 2 * np.int64(dn[c]) + dn[cr]
    above = np.int64(up[cl]) + 2 * np.int64(up[c]) + up[cr]
    gx = right - left
    gy = below - above
    return gx * gx + gy * gy


@njit(cache=True, nogil=True, inline="always")
def _teng_row_u8(up, mid, dn, gw, a, b, out):
    """Add sum(Gx**2 + Gy**2) over columns ``[a, b)`` of one row into the two-word ``out[0:2]``.

    ``up``, ``mid``, ``dn`` are full-width uint8 gray rows. The frame's first and last columns
    (reflected neighbours) are done one by one; the interior in int16 lanes (``|G| <= 1020``)
    whose squares are summed pairwise in int32 lanes (``vpmaddwd``) by
    :func:`._simd.sobel_sq_u8`, flushed every 4096 columns (257 vectors of at most
    ``4 * 1020**2`` per lane ``< 2**31``); a block of fewer than 16 columns by the scalar loop
    below. (Left to LLVM, the whole loop had been vectorised in 32-bit lanes with ``vpmulld``
    on a CPU without AVX-512: 2x slower.)
    """
    s = np.int64(0)
    c_lo = max(a, 1)
    c_hi = max(min(b, gw - 1), c_lo)
    for c in range(a, min(c_lo, b)):  # column 0, if the ROI holds it
        s += _sobel_sq_at(up, mid, dn, gw, c)
    for c in range(c_hi, b):  # column gw - 1, if the ROI holds it
        s += _sobel_sq_at(up, mid, dn, gw, c)
    c = c_lo
    while c < c_hi:
        end = min(c + 4096, c_hi)
        if end - c >= 16:
            s += sobel_sq_u8(up, mid, dn, c, end - c)  # 16 columns at a time (._simd)
            c = end
            continue
        ul, u, ur = up[c - 1 : end - 1], up[c:end], up[c + 1 : end + 1]
        ml, mr = mid[c - 1 : end - 1], mid[c + 1 : end + 1]
        dl, d, dr = dn[c - 1 : end - 1], dn[c:end], dn[c + 1 : end + 1]
        s2 = np.int32(0)
        for j in range(end - c):  # < 16 columns, as the vector loop computes them
            p = np.int16(np.int16(dr[j]) - np.int16(ul[j]))
            q = np.int16(np.int16(ur[j]) - np.int16(dl[j]))
            hx = np.int16(np.int16(mr[j]) - np.int16(ml[j]))
            hy = np.int16(np.int16(d[j]) - np.int16(u[j]))
            gx = np.int16(p + q + np.int16(2) * hx)
            gy = np.int16(p - q + np.int16(2) * hy)
            s2 = np.int32(s2 + np.int32(gx) * np.int32(gx) + np.int32(gy) * np.int32(gy))
        s += np.int64(s2)
        c = end
    _acc(out, 0, s)


@njit(cache=True, nogil=True)
def teng_u8(img, nch, geo, ring, cells, xs, ys):
    """TENG for uint8 frames with ``bin=1``, same sums as :func:`teng`.

    Gray frames are read in place; BGR rows are converted once each into a 3-row uint8 ring
    (``ring``, shape ``(3, W)``), with separate row loops per layout as in
    :func:`._kernels_lap.lapv_u8`. Rows are prefetched
    :data:`._prefetch.AHEAD` rows ahead (full frames and ROIs).
    """
    gh, gw, ry, rx, rh, rw = geo[3], geo[4], geo[5], geo[6], geo[7], geo[8]
    ntc = len(xs) - 1
    c0 = max(rx - 1, 0)
    c1 = min(rx + rw + 1, gw)
    ti = 0
    if nch == 1:
        for i in range(rh):
            ti = _tile_row(i, ys, ti)
            r = ry + i
            prefetch_row(img, r + AHEAD, c0, c1)
            up, mid, dn = img[_reflect(r - 1, gh)], img[r], img[_reflect(r + 1, gh)]
            for tj in range(ntc):
                _teng_row_u8(up, mid, dn, gw, rx + xs[tj], rx + xs[tj + 1], cells[ti, tj])
        return
    # BGR: row q lives in ring slot q % 3; rows ry - 1 and ry first, then each row once
    _gray_row_u8(img, ry, c0, c1, ring[ry % 3])
    if ry >= 1:
        _gray_row_u8(img, ry - 1, c0, c1, ring[(ry - 1) % 3])
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        prefetch_row(img, r + AHEAD, 3 * c0, 3 * c1)
        ru = _reflect(r - 1, gh)
        rd = _reflect(r + 1, gh)
        if r + 1 < gh:  # the one new row (at the last frame row, dn is the row above)
            _gray_row_u8(img, r + 1, c0, c1, ring[(r + 1) % 3])
        up, mid, dn = ring[ru % 3], ring[r % 3], ring[rd % 3]
        for tj in range(ntc):
            _teng_row_u8(up, mid, dn, gw, rx + xs[tj], rx + xs[tj + 1], cells[ti, tj])


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"teng": teng, "tenv": tenv, "bren": bren}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT = {"teng_u8": teng_u8}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
