"""numba kernels of the measures added after :mod:`._kernels` reached its size: Vollath's F5 and
the gray-region loader of the spectral measure. Computation only, no validation.

Same conventions as :mod:`._kernels` (read its docstring): the virtual gray image ``G`` of block
sums, the ring of five rows, tile boundaries ``xs``/``ys`` and two-word integer accumulators.
One decorator policy: ``@njit(cache=True, nogil=True)``.
"""

from __future__ import annotations

from numba import njit

from ._kernels import _advance, _cols, _load_row, _prime, _sum_nonneg, _tile_row


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


@njit(cache=True, nogil=True)
def gray_region(img, nch, geo, out):
    """Fill ``out[:rh, :rw]`` (float64) with the region of ``G`` (block sums of gray; no halo)."""
    oy, ox, k, _gh, gw, ry, rx, rh, rw = geo
    for i in range(rh):
        _load_row(img, nch, ry + i, oy, ox, k, gw, rx, rw, out[i])


#: Accumulating kernels, by measure name (the signature of :data:`._kernels.KERNELS`).
KERNELS = {"vol5": vol5}
