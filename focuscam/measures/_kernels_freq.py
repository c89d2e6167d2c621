"""numba kernels of the frequency family: ``wavs`` (Haar detail energy), the ``fftb`` loader.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.
"""

from __future__ import annotations

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
def gray_region(img, nch, geo, out):
    """Fill ``out[:rh, :rw]`` (float64) with the region of ``G`` (block sums of gray; no halo)."""
    oy, ox, k, _gh, gw, ry, rx, rh, rw = geo
    for i in range(rh):
        _load_row(img, nch, ry + i, oy, ox, k, gw, rx, rw, out[i])


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"wavs": wavs}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT: dict = {}

quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
