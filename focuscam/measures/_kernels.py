"""numba kernel core for the focus measures: the conventions and the shared row helpers.

The measure kernels live in one module per family, each with the same conventions (read here):
:mod:`._kernels_lap` (``lapv``, ``lapm``, ``lapd`` and the ``lapv`` hot paths),
:mod:`._kernels_grad` (``teng``, ``tenv``, ``bren`` and the ``teng`` hot path),
:mod:`._kernels_stat` (``glvn``, ``vola``, ``vol5`` and the ``glvn`` hot path) and
:mod:`._kernels_freq` (``wavs`` and the gray-region loader of ``fftb``). A command imports
(and numba loads from its cache) only the families of the measures it uses.

Kernels compute only: they never validate and never allocate (the wrappers in :mod:`._run`
validate and pass every buffer in). One decorator policy for every kernel:
``@njit(cache=True, nogil=True)``. The per-row helpers of the hot paths add
``inline="always"``: each numba call left out of line cost 10-20 ns per row and tile, together
some 15 % of the time of a 1080p uint8 frame.

The virtual gray image ``G``
----------------------------
Every generic kernel reads a *virtual* gray image ``G`` of ``GH x GW`` pixels without ever
building it: ``G[i, j]`` is the sum of the ``k x k`` block of gray pixels whose top-left corner is
frame pixel ``(oy + i*k, ox + j*k)``. Gray is the frame itself (one channel) or
``cv2.cvtColor(BGR2GRAY)`` fused in (:func:`_bgr_gray`). Indices of ``G`` outside
``[0, GH) x [0, GW)`` are mapped back with OpenCV's BORDER_REFLECT_101 (:func:`_reflect`). A
kernel measures the region ``[ry, ry + rh) x [rx, rx + rw)`` of ``G`` and keeps a ring of five
gray rows (the region width plus a 2-pixel halo): one pass over the region, no frame-sized
temporaries.

Frames are passed as 2-D views ``(H, W * C)`` with ``C`` (``nch``) 1 or 3 (a free ``reshape``
of a C-contiguous frame), so every kernel compiles once per dtype. Inner loops run over
0-based slices so that LLVM can drop negative-index checks and vectorise them.

Tiles: every kernel measures a grid of tiles of the region in the same pass (``xs``, ``ys``:
tile boundaries; one tile for a plain ROI) and adds each tile's sums into ``cells[ti, tj, :]``.
Integer frames accumulate exactly in int64; sums of squares, which can exceed int64 on huge
16-bit frames, are kept as two int64 words (``cell[i]`` low 62 bits, ``cell[i + 1]`` the carry)
by :func:`_acc`. Float frames accumulate in float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._compile import install_notice, quick_cache_load

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
    narrow accumulators of :func:`._kernels_lap.lapv_u8`, so the floor is as fast as a read can be made.
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


quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
