"""numba kernels of the gradient family: ``teng``, ``tenv``, ``bren``.

Computation only, no validation, no allocation. Conventions (the virtual gray image ``G``,
the ring of five rows, tiles ``xs``/``ys``, two-word integer accumulators) and the one
decorator policy ``@njit(cache=True, nogil=True)``: see :mod:`._kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import _advance, _cols, _prime, _sum_into, _sum_nonneg, _sumsq_nonneg, _tile_row


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


#: Generic kernels by measure name (signature ``(img, nch, geo, ring, vals, cells, xs, ys)``).
KERNELS = {"teng": teng, "tenv": tenv, "bren": bren}
#: Hot paths by name (signature ``(img, nch, geo, ring, cells, xs, ys)``; see :mod:`._run`).
HOT: dict = {}
