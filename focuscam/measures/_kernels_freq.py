"""numba kernels of the frequency family: ``wavs`` (Haar detail energy), the ``fftb`` windowed
loader and band sum.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._compile import quick_cache_load
from ._kernels import _acc, _load_row


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


@njit(cache=True, nogil=True)
def windowed_region(img, nch, geo, wy, wx, out):
    """Fill ``out[:rh, :rw]`` with ``(G - mean(G)) * wy[i] * wx[j]`` over the region; return
    ``mean(G)``.

    One numba pass loads the region's gray (block sums with ``bin > 1``; no halo) and sums it
    (exact in float64 for integer frames: below 2**53), a second applies the mean and the
    separable window in place: what ``tile -= tile.mean(); tile *= wy[:, None]; tile *= wx``
    did in four numpy passes.
    """
    oy, ox, k, _gh, gw, ry, rx, rh, rw = geo
    total = 0.0
    q = rw // 4
    for i in range(rh):
        row = out[i, :rw]
        _load_row(img, nch, ry + i, oy, ox, k, gw, rx, rw, row)
        # four partial sums: one float64 sum is bound by the add latency (0.5 ms of a 540 x 960
        # block, measured); exact for integer frames either way
        a0 = a1 = a2 = a3 = 0.0
        for c in range(q):
            a0 += row[4 * c]
            a1 += row[4 * c + 1]
            a2 += row[4 * c + 2]
            a3 += row[4 * c + 3]
        for c in range(4 * q, rw):
            a0 += row[c]
        total += (a0 + a1) + (a2 + a3)
    mean = total / (rh * rw)
    for i in range(rh):
        row = out[i, :rw]
        a = wy[i]
        for c in range(rw):
            row[c] = (row[c] - mean) * a * wx[c]
    return mean


@njit(cache=True, nogil=True)
def band_power(spec, h, w, lo, hi):
    """``sum |X|^2`` of the half spectrum ``spec`` (``rfft2`` of an ``h x w`` block, or its
    first columns only: the band ends at ``v = w // hi``) over the frequencies ``(u/h, v/w)``
    with ``1/lo <= |f| <= 1/hi``, every column but 0 (and ``w/2`` for even ``w``) counted twice
    for its mirror image. The band test is exact on integers:
    ``lo**2 (u**2 w**2 + v**2 h**2) >= h**2 w**2 >= hi**2 (...)``, in int64 (below 2**50 for
    blocks up to 1024 x 1024); the mask is never stored."""
    hw2 = np.int64(h * w) ** 2
    lo2 = np.int64(lo * lo)
    hi2 = np.int64(hi * hi)
    nv = spec.shape[1]
    half = (h + 1) // 2
    total = 0.0
    for r in range(spec.shape[0]):
        u = np.int64(r if r < half else r - h)  # numpy.fft.fftfreq(h, 1 / h)
        uw2 = (u * w) ** 2
        if hi2 * uw2 > hw2:  # |u| / h > 1 / hi: no frequency of this row is in the band
            continue
        row = spec[r]
        acc = 0.0
        for v in range(nv):
            f2 = uw2 + (np.int64(v) * h) ** 2
            if lo2 * f2 >= hw2 and hi2 * f2 <= hw2:
                x = row[v]
                p = x.real * x.real + x.imag * x.imag
                acc += p if v == 0 or 2 * v == w else 2.0 * p  # w/2 (even w): no mirror image
        total += acc
    return total


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"wavs": wavs}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT: dict = {}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
