"""numba kernels for the focus measures: computation only, no validation.

One decorator policy for every kernel: ``@njit(cache=True, nogil=True)``. The per-row helpers
of the hot paths (``_lap_row_*``) add ``inline="always"``: each numba call left out of line
cost 10-20 ns per row and tile, together some 15 % of the time of a 1080p uint8 frame.

The virtual gray image ``G``
----------------------------
Every kernel reads a *virtual* gray image ``G`` of ``GH x GW`` pixels without ever building it:
``G[i, j]`` is the sum of the ``k x k`` block of gray pixels whose top-left corner is frame pixel
``(oy + i*k, ox + j*k)``. Gray is the frame itself (one channel) or ``cv2.cvtColor(BGR2GRAY)``
fused in (:func:`_bgr_gray`). Indices of ``G`` outside ``[0, GH) x [0, GW)`` are mapped back with
OpenCV's BORDER_REFLECT_101 (:func:`_reflect`). A kernel measures the region
``[ry, ry + rh) x [rx, rx + rw)`` of ``G`` and keeps a ring of five gray rows (the region width
plus a 2-pixel halo): one pass over the region, no frame-sized temporaries.

Frames are passed as 2-D views ``(H, W * C)`` with ``C`` (``nch``) 1 or 3 (a free ``reshape``
of a C-contiguous frame), so every kernel compiles once per dtype. Inner loops run over
0-based slices so that LLVM can drop negative-index checks and vectorise them.

Tiles: every kernel measures a grid of tiles of the region in the same pass (``xs``, ``ys``:
tile boundaries; one tile for a plain ROI) and adds each tile's sums into ``cells[ti, tj, :]``.
Integer frames accumulate exactly in int64; sums of squares, which can exceed int64 on huge
16-bit frames, are kept as two int64 words (``cell[i]`` low 62 bits, ``cell[i + 1]`` the carry)
by :func:`_acc`. Float frames accumulate in float64.

Hot paths: :func:`lapv_u8` (uint8 gray or BGR, ``bin=1``: int16 lanes, squares summed pairwise
into int32 partial sums flushed every 2048 columns, sum(L) from the tile edges because it
telescopes, BGR rows converted once into a 3-row uint8 ring) and
:func:`lapv_u16_gray` (uint16 gray, ``bin=1``, read in place, sum(L) telescoped the same way).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._compile import install_notice
from ._prefetch import AHEAD, prefetch_row

install_notice()  # a compile (cache miss) prints one line on a terminal, never silently

# Q15 weights of cv2.cvtColor(COLOR_BGR2GRAY) for 8- and 16-bit frames (bit-exact, see tests).
_QB, _QG, _QR = 3735, 19235, 9798
# float weights of cv2.cvtColor for float32 frames
_FB, _FG, _FR = 0.114, 0.587, 0.299
_LOW62 = (1 << 62) - 1


def _bgr_gray(b, g, r):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_bgr_gray, jit_options={"cache": True, "nogil": True})
def _ov_bgr_gray(b, g, r):
    if b == types.uint8:

        def impl8(b, g, r):
            # <= 255 * 32768: fits int32, which keeps the vector lanes narrow
            return np.int32((np.int32(b) * _QB + np.int32(g) * _QG + np.int32(r) * _QR + 16384) >> 15)

        return impl8

    if isinstance(b, types.Integer):

        def impl(b, g, r):
            return (np.int64(b) * _QB + np.int64(g) * _QG + np.int64(r) * _QR + 16384) >> 15

        return impl

    def impl_f(b, g, r):
        return np.float64(b) * _FB + np.float64(g) * _FG + np.float64(r) * _FR

    return impl_f


def _acc(out, i, v):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_acc, jit_options={"cache": True, "nogil": True})
def _ov_acc(out, i, v):
    if isinstance(out.dtype, types.Integer):

        def impl(out, i, v):
            # v >= 0 and < 2**62: a 124-bit unsigned sum in two words
            s = out[i] + v
            out[i + 1] += s >> 62
            out[i] = s & _LOW62

        return impl

    def impl_f(out, i, v):
        out[i] += v

    return impl_f


@njit(cache=True, nogil=True)
def _gray(img, nch, r, c):
    """Gray value of pixel (r, c) of a 2-D ``(H, W * nch)`` view."""
    if nch == 1:
        return img[r, c]
    return _bgr_gray(img[r, 3 * c], img[r, 3 * c + 1], img[r, 3 * c + 2])


@njit(cache=True, nogil=True)
def _reflect(p, n):
    """OpenCV BORDER_REFLECT_101 of index ``p`` into ``[0, n)`` (``n == 1`` maps to 0)."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        if p < 0:
            p = -p
        else:
            p = 2 * n - 2 - p
    return p


@njit(cache=True, nogil=True)
def _load_row(img, nch, gi, oy, ox, k, gw, gc0, n, buf):
    """Fill ``buf[:n]`` with ``G[gi, reflect(gc0 + t)]``; ``gi`` is already inside ``[0, GH)``."""
    if k == 1:
        r = oy + gi
        t_lo = min(max(0, -gc0), n)
        t_hi = max(min(n, gw - gc0), t_lo)
        for t in range(t_lo):
            buf[t] = _gray(img, nch, r, ox + _reflect(gc0 + t, gw))
        # the in-frame run: slices indexed from 0 let LLVM drop negative-index checks and vectorise
        c0 = ox + gc0
        m = t_hi - t_lo
        dst = buf[t_lo:t_hi]
        if nch == 1:
            src = img[r, c0 + t_lo : c0 + t_hi]
            for t in range(m):
                dst[t] = src[t]
        else:
            src = img[r, 3 * (c0 + t_lo) : 3 * (c0 + t_hi)]
            for t in range(m):
                dst[t] = _bgr_gray(src[3 * t], src[3 * t + 1], src[3 * t + 2])
        for t in range(t_hi, n):
            buf[t] = _gray(img, nch, r, ox + _reflect(gc0 + t, gw))
        return
    # binned: the in-range run of block sums row by row over 0-based slices, then the halo
    r0 = oy + gi * k
    t_lo = min(max(0, -gc0), n)
    t_hi = max(min(n, gw - gc0), t_lo)
    m = t_hi - t_lo
    dst = buf[t_lo:t_hi]
    for t in range(m):
        dst[t] = 0
    cs = ox + (gc0 + t_lo) * k
    for a in range(k):
        if nch == 1 and k == 2:
            src = img[r0 + a, cs : cs + m * k]
            for b in range(k):  # two strided passes vectorise better than pairs
                sv = src[b::k]
                for t in range(m):
                    dst[t] += sv[t]
        elif nch == 1:
            src = img[r0 + a, cs : cs + m * k]
            for t in range(m):
                acc = dst[t]
                for b in range(k):
                    acc += src[t * k + b]
                dst[t] = acc
        else:
            src = img[r0 + a, 3 * cs : 3 * (cs + m * k)]
            for t in range(m):
                acc = dst[t]
                for b in range(k):
                    q = 3 * (t * k + b)
                    acc += _bgr_gray(src[q], src[q + 1], src[q + 2])
                dst[t] = acc
    # Halo: a reflected column is a copy of a computed one. With bin > 1 the region is the
    # whole binned crop (see _run.geometry), so the computed run is all of [0, GW) and every
    # reflected index lands inside it.
    for t in range(t_lo):
        buf[t] = buf[_reflect(gc0 + t, gw) - gc0]
    for t in range(t_hi, n):
        buf[t] = buf[_reflect(gc0 + t, gw) - gc0]


@njit(cache=True, nogil=True)
def _prime(img, nch, geo, ring):
    """Load G rows ``ry - 2 .. ry + 1`` (reflected) into ring slots 0..3."""
    oy, ox, k, gh, gw, ry, rx, _rh, rw = geo
    n = rw + 4
    for t in range(4):
        _load_row(img, nch, _reflect(ry - 2 + t, gh), oy, ox, k, gw, rx - 2, n, ring[t])


@njit(cache=True, nogil=True)
def _advance(img, nch, geo, ring, i):
    """Load G row ``ry + i + 2`` into its ring slot; return the slots of rows ``ry+i-2 .. ry+i+2``."""
    oy, ox, k, gh, gw, ry, rx, _rh, rw = geo
    _load_row(img, nch, _reflect(ry + i + 2, gh), oy, ox, k, gw, rx - 2, rw + 4, ring[(i + 4) % 5])
    return ring[i % 5], ring[(i + 1) % 5], ring[(i + 2) % 5], ring[(i + 3) % 5], ring[(i + 4) % 5]


@njit(cache=True, nogil=True)
def _cols(row, rw):
    """Views of a ring row at column offsets -1, 0, +1, +2 of the region, indexed from 0.

    0-based slices let LLVM drop negative-index checks and vectorise the loops.
    """
    return row[1 : rw + 1], row[2 : rw + 2], row[3 : rw + 3], row[4 : rw + 4]


# --- tiles and reductions --------------------------------------------------------------------
#
# Every kernel measures a grid of tiles in one pass: ``xs`` (length TC + 1) and ``ys`` (TR + 1)
# are tile boundaries relative to the region (a single ROI is ``xs = [0, rw]``, ``ys = [0, rh]``)
# and ``cells[ti, tj, :]`` receives tile (ti, tj)'s sums. A kernel computes one row of per-pixel
# values into ``vals`` (vectorised over the whole row), then adds each tile's slice of it.


@njit(cache=True, nogil=True)
def _tile_row(i, ys, ti):
    """Index of the tile row holding region row ``i`` (rows arrive in order)."""
    while i >= ys[ti + 1]:
        ti += 1
    return ti


@njit(cache=True, nogil=True)
def _sum_into(v, xs, cells, slot):
    """``cells[tj, slot] += sum(v[xs[tj]:xs[tj+1]])`` (signed, plain add)."""
    for tj in range(len(xs) - 1):
        seg = v[xs[tj] : xs[tj + 1]]
        s = seg[0] * 0
        for c in range(len(seg)):
            s += seg[c]
        cells[tj, slot] += s


@njit(cache=True, nogil=True)
def _sum_nonneg(v, xs, cells, slot):
    """Add the non-negative tile sums of ``v`` into the two-word accumulator at ``slot``."""
    for tj in range(len(xs) - 1):
        seg = v[xs[tj] : xs[tj + 1]]
        s = seg[0] * 0
        for c in range(len(seg)):
            s += seg[c]
        _acc(cells[tj], slot, s)


@njit(cache=True, nogil=True)
def _sumsq_nonneg(v, xs, cells, slot):
    """Add the tile sums of ``v**2`` into the two-word accumulator at ``slot``."""
    for tj in range(len(xs) - 1):
        seg = v[xs[tj] : xs[tj + 1]]
        s = seg[0] * 0
        for c in range(len(seg)):
            s += seg[c] * seg[c]
        _acc(cells[tj], slot, s)


# --- Laplacian family ------------------------------------------------------------------------


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


# --- gradient family -------------------------------------------------------------------------


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


# --- statistics family -----------------------------------------------------------------------


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


# --- wavelet family --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def wavs(img, nch, geo, ring, vals, cells, xs, ys):
    """cells[..., 0:2] += sum over 2x2 blocks of 4*(a2+b2+c2+d2) - (a+b+c+d)**2 (4 x Haar detail energy).

    Blocks start at each tile's top-left corner; an odd last row/column of a tile is paired with
    itself, like ``pywt.dwt2(..., mode="symmetric")`` on the tile's crop.
    """
    oy, ox, k, _gh, gw, ry, rx, _rh, rw = geo
    top = ring[0]
    bot = ring[1]
    for ti in range(len(ys) - 1):
        for i in range(ys[ti], ys[ti + 1], 2):
            _load_row(img, nch, ry + i, oy, ox, k, gw, rx, rw, top)
            if i + 1 < ys[ti + 1]:
                _load_row(img, nch, ry + i + 1, oy, ox, k, gw, rx, rw, bot)
            else:
                for c in range(rw):
                    bot[c] = top[c]
            for tj in range(len(xs) - 1):
                x0, x1 = xs[tj], xs[tj + 1]
                s = top[0] * 0
                for c in range(x0, x1, 2):
                    c2 = c + 1 if c + 1 < x1 else c
                    a = top[c]
                    b = top[c2]
                    d = bot[c]
                    e = bot[c2]
                    t = a + b + d + e
                    s += 4 * (a * a + b * b + d * d + e * e) - t * t
                _acc(cells[ti, tj], 0, s)


# --- helpers ---------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def all_finite(img, y0, y1, x0, x1):
    """True when every value of the 2-D view ``img[y0:y1, x0:x1]`` is finite."""
    for r in range(y0, y1):
        for c in range(x0, x1):
            if not np.isfinite(img[r, c]):
                return False
    return True


@njit(cache=True, nogil=True)
def read_floor(img, y0, y1, x0, x1):
    """The memory floor for integer frames: one plain pass that reads and sums ``img[y0:y1, x0:x1]``.

    Row sums are kept in uint32 (exact for any row of up to 65535 16-bit values), like the
    narrow accumulators of :func:`lapv_u8`, so the floor is as fast as a read can be made.
    """
    s = 0
    for r in range(y0, y1):
        row = img[r, x0:x1]
        rs = np.uint32(0)
        for c in range(x1 - x0):
            rs = np.uint32(rs + row[c])
        s += rs
    return s


@njit(cache=True, nogil=True)
def _row_sum(row, a, b):
    """``sum(row[a:b])`` of an integer row, exact in int64."""
    seg = row[a:b]
    s = np.int64(0)
    for c in range(b - a):
        s += seg[c]
    return s


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
    squares are summed pairwise in int32 (on x86 LLVM emits ``pmaddwd``), flushed every 2048
    columns (``2048 * 1020**2 < 2**31``).
    """
    c_lo, c_hi = _lap_row_rim(up, mid, dn, gw, rx, rx + rw, out, first, last)
    c = c_lo
    while c < c_hi:
        end = min(c + 2048, c_hi)
        s2 = np.int32(0)
        u, d, m0, ml, mr = up[c:end], dn[c:end], mid[c:end], mid[c - 1 : end - 1], mid[c + 1 : end + 1]
        for j in range(end - c):
            v = np.int16(
                np.int16(u[j])
                + np.int16(d[j])
                + np.int16(ml[j])
                + np.int16(mr[j])
                - np.int16(4) * np.int16(m0[j])
            )
            s2 = np.int32(s2 + np.int32(v) * np.int32(v))
        _acc(out, 1, np.int64(s2))
        c = end


@njit(cache=True, nogil=True, inline="always")
def _lap_row_u16(up, mid, dn, gw, rx, rw, out, first, last):
    """As :func:`_lap_row_u8` for uint16 gray rows: int32 lanes (``|L| <= 262140``), int64 squares."""
    c_lo, c_hi = _lap_row_rim(up, mid, dn, gw, rx, rx + rw, out, first, last)
    if c_hi > c_lo:
        u, d, m0, ml, mr = (
            up[c_lo:c_hi],
            dn[c_lo:c_hi],
            mid[c_lo:c_hi],
            mid[c_lo - 1 : c_hi - 1],
            mid[c_lo + 1 : c_hi + 1],
        )
        s2 = np.int64(0)
        for j in range(c_hi - c_lo):
            v = np.int32(
                np.int32(u[j]) + np.int32(d[j]) + np.int32(ml[j]) + np.int32(mr[j]) - 4 * np.int32(m0[j])
            )
            s2 += np.int64(v) * v
        _acc(out, 1, s2)


@njit(cache=True, nogil=True)
def lapv_u16_gray(img, nch, geo, ring, cells, xs, ys):
    """LAPV for 2-D uint16 frames with ``bin=1``, read in place; same sums as :func:`lapv`."""
    gh, gw, ry, rx, rh, rw = geo[3], geo[4], geo[5], geo[6], geo[7], geo[8]
    strided = rw < gw  # an ROI narrower than the frame: rows are not contiguous, prefetch them
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        if strided:
            prefetch_row(img, r + AHEAD, max(rx - 1, 0), min(rx + rw + 1, gw))
        up, mid, dn = img[_reflect(r - 1, gh)], img[r], img[_reflect(r + 1, gh)]
        first = i == ys[ti]
        last = i == ys[ti + 1] - 1
        for tj in range(len(xs) - 1):
            _lap_row_u16(up, mid, dn, gw, rx + xs[tj], xs[tj + 1] - xs[tj], cells[ti, tj], first, last)


@njit(cache=True, nogil=True)
def _q15_gray(b, g, r):
    """cv2 BGR2GRAY of one pixel from int32 channel values (Q15 weights, bit-exact)."""
    return (b * _QB + g * _QG + r * _QR + 16384) >> 15


@njit(cache=True, nogil=True)
def _gray_row_u8(img, r, c0, c1, dst):
    """``dst[c0:c1]`` = cv2 BGR2GRAY of row ``r`` (uint8 BGR, Q15 weights in int32 lanes).

    Four pixels (12 bytes) are read as three uint32 words and their grays stored as one word:
    unit-stride-friendly word loads vectorise far better than a stride-3 byte deinterleave.
    Assumes a little-endian host (byte 0 of a word is its low byte).
    """
    n = c1 - c0
    m = n // 4
    s = img[r, 3 * c0 : 3 * c0 + 12 * m].view(np.uint32)
    o = dst[c0 : c0 + 4 * m].view(np.uint32)
    mk = np.uint32(255)
    for q in range(m):
        w0 = s[3 * q]
        w1 = s[3 * q + 1]
        w2 = s[3 * q + 2]
        p0 = _q15_gray(np.int32(w0 & mk), np.int32((w0 >> 8) & mk), np.int32((w0 >> 16) & mk))
        p1 = _q15_gray(np.int32(w0 >> 24), np.int32(w1 & mk), np.int32((w1 >> 8) & mk))
        p2 = _q15_gray(np.int32((w1 >> 16) & mk), np.int32(w1 >> 24), np.int32(w2 & mk))
        p3 = _q15_gray(np.int32((w2 >> 8) & mk), np.int32((w2 >> 16) & mk), np.int32(w2 >> 24))
        o[q] = np.uint32(p0 | (p1 << 8) | (p2 << 16) | (p3 << 24))
    src = img[r, 3 * c0 : 3 * c1]
    for t in range(4 * m, n):
        dst[c0 + t] = np.uint8(
            _q15_gray(np.int32(src[3 * t]), np.int32(src[3 * t + 1]), np.int32(src[3 * t + 2]))
        )


@njit(cache=True, nogil=True)
def lapv_u8(img, nch, geo, ring, cells, xs, ys):
    """LAPV for uint8 frames with ``bin=1`` (the hot path), same sums as :func:`lapv`.

    Gray frames are read in place (reflected rows are just other rows). BGR rows are converted
    once each into a 3-row uint8 ring (``ring``, shape ``(3, W)``, columns kept at their frame
    index) and then take the same row kernel.
    """
    gh, gw, ry, rx, rh, rw = geo[3], geo[4], geo[5], geo[6], geo[7], geo[8]
    ntc = len(xs) - 1
    c0 = max(rx - 1, 0)
    c1 = min(rx + rw + 1, gw)
    held = np.full(3, -1, np.int64)
    strided = rw < gw  # an ROI narrower than the frame: rows are not contiguous, prefetch them
    ti = 0
    for i in range(rh):
        ti = _tile_row(i, ys, ti)
        r = ry + i
        if strided:
            prefetch_row(img, r + AHEAD, c0 * nch, c1 * nch)
        ru = _reflect(r - 1, gh)
        rd = _reflect(r + 1, gh)
        if nch == 1:
            up, mid, dn = img[ru], img[r], img[rd]
        else:
            for q in (ru, r, rd):
                if held[q % 3] != q:
                    _gray_row_u8(img, q, c0, c1, ring[q % 3])
                    held[q % 3] = q
            up, mid, dn = ring[ru % 3], ring[r % 3], ring[rd % 3]
        first = i == ys[ti]
        last = i == ys[ti + 1] - 1
        for tj in range(ntc):
            _lap_row_u8(up, mid, dn, gw, rx + xs[tj], xs[tj + 1] - xs[tj], cells[ti, tj], first, last)


KERNELS = {
    "lapv": lapv,
    "lapm": lapm,
    "lapd": lapd,
    "teng": teng,
    "tenv": tenv,
    "bren": bren,
    "glvn": glvn,
    "vola": vola,
    "wavs": wavs,
}
