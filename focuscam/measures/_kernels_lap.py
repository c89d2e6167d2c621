"""numba kernels of the Laplacian family: ``lapv``, ``lapm``, ``lapd``.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.

Hot paths: :func:`lapv_u8` (uint8 gray or BGR, ``bin=1``: int16 lanes, squares summed pairwise
into int32 partial sums flushed every 2048 columns, sum(L) from the tile edges because it
telescopes, BGR rows converted once into a 3-row uint8 ring) and :func:`lapv_u16_gray`
(uint16 gray, ``bin=1``, read in place, sum(L) telescoped the same way).
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
    _row_sum,
    _sum_into,
    _sum_nonneg,
    _sumsq_nonneg,
    _tile_row,
)
from ._prefetch import AHEAD, prefetch_row
from ._simd import lap_sq_u8, lap_sq_u16


@njit(cache=True, nogil=True)
def lapv(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0] += sum(L); cells[..., 1:3] += sum(L**2); L = 4-neighbour Laplacian."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        _, u, _, _ = _cols(up, rw)
        _, d, _, _ = _cols(dn, rw)
        ml, m, mr, _ = _cols(mid, rw)
        for c in range(rw):
            v[c] = u[c] + d[c] + ml[c] + mr[c] - 4 * m[c]
        _sum_into(v, xs, cells[ti], 0)
        _sumsq_nonneg(v, xs, cells[ti], 1)


@njit(cache=True, nogil=True)
def lapm(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += sum(|2G - left - right| + |2G - up - down|)."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    v = vals[0, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        _, u, _, _ = _cols(up, rw)
        _, d, _, _ = _cols(dn, rw)
        ml, m, mr, _ = _cols(mid, rw)
        for c in range(rw):
            m2 = 2 * m[c]
            v[c] = abs(m2 - ml[c] - mr[c]) + abs(m2 - u[c] - d[c])
        _sum_nonneg(v, xs, cells[ti], 0)


@njit(cache=True, nogil=True)
def lapd(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += axial |second differences|, cells[..., 2:4] += diagonal ones."""
    rh, rw = geo[7], geo[8]
    _prime(img, nch, geo, ring)
    va = vals[0, :rw]
    vd = vals[1, :rw]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        _, up, mid, dn, _ = _advance(img, nch, geo, ring, i)
        ul, u, ur, _ = _cols(up, rw)
        dl, d, dr, _ = _cols(dn, rw)
        ml, m, mr, _ = _cols(mid, rw)
        for c in range(rw):
            m2 = 2 * m[c]
            va[c] = abs(m2 - ml[c] - mr[c]) + abs(m2 - u[c] - d[c])
            vd[c] = abs(m2 - ul[c] - dr[c]) + abs(m2 - ur[c] - dl[c])
        _sum_nonneg(va, xs, cells[ti], 0)
        _sum_nonneg(vd, xs, cells[ti], 2)


@njit(cache=True, nogil=True, inline="always")
def _lap_at(up, mid, dn, gw, c):
    """L at column ``c`` of the ``mid`` row in int64, the row's ends reflected (BORDER_REFLECT_101)."""
    return (
        np.int64(up[c]) + dn[c] + mid[_reflect(c - 1, gw)] + mid[_reflect(c + 1, gw)] - 4 * np.int64(mid[c])
    )


@njit(cache=True, nogil=True, inline="always")
def _lap_row_rim(up, mid, dn, gw, a, b, out, first, last):
    """The parts of one row's LAPV sums that are not per-pixel work; return the interior run.

    Adds to ``out`` this row's share of sum(L) over ROI columns ``[a, b)``, and sum(L**2) of
    the first and last frame columns (reflected neighbour) if the ROI holds them. Returns
    ``(c_lo, c_hi)``: the interior columns, whose squares the caller's vector loop adds.

    sum(L) telescopes, so it is never summed per pixel: over a tile, the vertical half of L
    ``up + dn - 2 mid`` sums to (row above the tile - its first row) + (row below - its last
    row), and the horizontal half of each row sums to its four end pixels. ``first`` / ``last``
    say whether this row opens / closes its tile (both for a one-row tile).
    """
    out[0] += (
        np.int64(mid[_reflect(a - 1, gw)])
        - np.int64(mid[a])
        + np.int64(mid[_reflect(b, gw)])
        - np.int64(mid[b - 1])
    )
    if first:
        out[0] += _row_sum(up, a, b) - _row_sum(mid, a, b)
    if last:
        out[0] += _row_sum(dn, a, b) - _row_sum(mid, a, b)
    c_lo = max(a, 1)
    c_hi = max(min(b, gw - 1), c_lo)
    for c in range(a, min(c_lo, b)):  # column 0, if the ROI holds it
        _acc(out, 1, _lap_at(up, mid, dn, gw, c) ** 2)
    for c in range(c_hi, b):  # column gw - 1, if the ROI holds it
        _acc(out, 1, _lap_at(up, mid, dn, gw, c) ** 2)
    return c_lo, c_hi


@njit(cache=True, nogil=True, inline="always")
def _lap_row_u8(up, mid, dn, gw, rx, rw, out, first, last):
    """Add one row's share of sum(L) and sum(L**2) over ROI columns ``[rx, rx + rw)`` to ``out``.

    ``up``, ``mid``, ``dn`` are full-width uint8 gray rows; sum(L) and the frame-edge columns
    come from :func:`_lap_row_rim`. Interior columns run in int16 lanes (``|L| <= 1020``) whose
    squares are summed pairwise in int32 lanes (``vpmaddwd``) by :func:`._simd.lap_sq_u8`, 32
    columns per vector, flushed every 2048 columns (exact: at most ``66 * 2 * 1020**2 < 2**31``
    per lane; 8192-column blocks, also exact, made a 1080p frame 1.7x slower, measured with the
    16-column loop); a block of fewer than 32 columns by the scalar loop below. (Left to LLVM,
    the loop ran 8 lanes per ``vpmaddwd`` on a CPU without AVX-512.)
    """
    c_lo, c_hi = _lap_row_rim(up, mid, dn, gw, rx, rx + rw, out, first, last)
    c = c_lo
    while c < c_hi:
        end = min(c + 2048, c_hi)
        if end - c >= 32:
            _acc(out, 1, lap_sq_u8(up, mid, dn, c, end - c))  # 32 columns at a time (._simd)
            c = end
            continue
        s2 = np.int32(0)
        u, d, m0, ml, mr = up[c:end], dn[c:end], mid[c:end], mid[c - 1 : end - 1], mid[c + 1 : end + 1]
        for j in range(end - c):  # < 32 columns
            lj = np.int16(
                np.int16(u[j])
                + np.int16(d[j])
                + np.int16(ml[j])
                + np.int16(mr[j])
                - np.int16(4) * np.int16(m0[j])
            )
            s2 = np.int32(s2 + np.int32(lj) * np.int32(lj))
        _acc(out, 1, np.int64(s2))
        c = end


@njit(cache=True, nogil=True, inline="always")
def _sq_block_u16(u, d, m0, ml, mr):
    """sum(L**2) of one block of at most 2048 interior columns of uint16 rows, exact in int64.

    L is computed in int32 lanes (``|L| <= 4 * 65535 = 262140 < 2**18``) and split as
    ``L = 512 a + b`` with ``a = L >> 9`` (``|a| <= 512``) and ``b = L & 511``, so that
    ``L**2 = 2**18 a**2 + 2**10 a b + b**2``: each product is below ``2**18`` and a block of
    2048 of them fits an int32 partial sum. The three sums stay in 32-bit lanes (on x86 LLVM
    emits ``vpmulld``/``vpdpwssd``) instead of squaring in 64-bit lanes, 4 per register.
    """
    saa = np.int32(0)
    sab = np.int32(0)
    sbb = np.int32(0)
    for j in range(len(m0)):
        v = np.int32(
            np.int32(u[j])
            + np.int32(d[j])
            + np.int32(ml[j])
            + np.int32(mr[j])
            - np.int32(4) * np.int32(m0[j])
        )
        a = np.int16(v >> 9)
        b = np.int16(v & 511)
        saa = np.int32(saa + np.int32(a) * np.int32(a))
        sab = np.int32(sab + np.int32(a) * np.int32(b))
        sbb = np.int32(sbb + np.int32(b) * np.int32(b))
    return (np.int64(saa) << 18) + (np.int64(sab) << 10) + np.int64(sbb)


@njit(cache=True, nogil=True, inline="always")
def _lap_row_u16(up, mid, dn, gw, rx, rw, out, first, last):
    """As :func:`_lap_row_u8` for uint16 gray rows: blocks of 2048 columns, squares split by
    bytes into 32-bit partial sums by :func:`._simd.lap_sq_u16` (fewer than 16 columns by
    :func:`_sq_block_u16`)."""
    c_lo, c_hi = _lap_row_rim(up, mid, dn, gw, rx, rx + rw, out, first, last)
    c = c_lo
    while c < c_hi:
        end = min(c + 2048, c_hi)
        if end - c >= 16:
            s2 = lap_sq_u16(up, mid, dn, c, end - c)  # 16 columns at a time (._simd)
        else:
            s2 = _sq_block_u16(up[c:end], dn[c:end], mid[c:end], mid[c - 1 : end - 1], mid[c + 1 : end + 1])
        _acc(out, 1, s2)
        c = end


@njit(cache=True, nogil=True)
def lapv_u16_gray(img, nch, geo, ring, cells, xs, ys):
    """LAPV for 2-D uint16 frames with ``bin=1``, read in place; same sums as :func:`lapv`.

    Rows are prefetched :data:`._prefetch.AHEAD` rows ahead on full frames too: measured, a
    cold 5472 x 3648 frame took 0.7x the time with it and a 1080p frame 0.9x.
    """
    gh, gw, ry, rx, rh, rw = geo[3], geo[4], geo[5], geo[6], geo[7], geo[8]
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        prefetch_row(img, r + AHEAD, max(rx - 1, 0), min(rx + rw + 1, gw))
        up, mid, dn = img[_reflect(r - 1, gh)], img[r], img[_reflect(r + 1, gh)]
        first = i == ys[ti]
        last = i == ys[ti + 1] - 1
        for tj in range(len(xs) - 1):
            _lap_row_u16(up, mid, dn, gw, rx + xs[tj], xs[tj + 1] - xs[tj], cells[ti, tj], first, last)


@njit(cache=True, nogil=True)
def lapv_u8(img, nch, geo, ring, cells, xs, ys):
    """LAPV for uint8 frames with ``bin=1`` (the hot path), same sums as :func:`lapv`.

    Gray frames are read in place (reflected rows are just other rows). BGR rows are converted
    once each into a 3-row uint8 ring (``ring``, shape ``(3, W)``, columns kept at their frame
    index) and then take the same row kernel. The two layouts
    run separate row loops: one loop with the layout test and the ring state inside it made
    the gray frames some 25 % slower (measured).
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
            first = i == ys[ti]
            last = i == ys[ti + 1] - 1
            for tj in range(ntc):
                _lap_row_u8(up, mid, dn, gw, rx + xs[tj], xs[tj + 1] - xs[tj], cells[ti, tj], first, last)
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
        first = i == ys[ti]
        last = i == ys[ti + 1] - 1
        for tj in range(ntc):
            _lap_row_u8(up, mid, dn, gw, rx + xs[tj], xs[tj + 1] - xs[tj], cells[ti, tj], first, last)


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"lapv": lapv, "lapm": lapm, "lapd": lapd}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT = {"lapv_u8": lapv_u8, "lapv_u16_gray": lapv_u16_gray}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
