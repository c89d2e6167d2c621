"""numba kernels of the blur verdict (Tong et al. 2004): computation only, no validation.

One decorator policy, as for the focus measures: ``@njit(cache=True, nogil=True)``.

:func:`blur_blocks` reads the analysed region of the frame once, row by row (BGR converted and
binned on the way), in bands of 16 binned rows (one row of 16 x 16 blocks): each pair of binned
rows goes through Haar level 1 at once, levels 2 and 3 run on the band's approximations (1/4
and 1/16 of it), and column-wise maxima of the squared edge strength give each block's
``Emax1..3`` with one square root per block and level. It also writes a regular sample of the
level-1 ``|HH|`` coefficients (for the noise estimate) and returns the range of the level-3
``LL`` values (8 x 8 means, for the contrast). :func:`blur_counts` then classifies the blocks against
a threshold. Nothing is allocated per call: the caller passes the workspaces.

Conventions (the same as the oracle in ``tests/test_blur_kernel.py``): the gray value of a
binned pixel is the mean of its ``k x k`` gray pixels (BGR converted as ``cv2.cvtColor`` does:
Q15 integer weights for integer frames, float weights for float32); a level's detail of the
2 x 2 group ``[[p, q], [r, s]]`` is ``(p + q - r - s) / 2``, ``(p - q + r - s) / 2`` and
``(p - q - r + s) / 2`` and its approximation ``(p + q + r + s) / 4``: mean-normalised Haar, so
an ideal step has the same detail at every level, in the frame's gray levels (PyWavelets'
orthonormal Haar divided by ``2**(level - 1)``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._compile import install_notice, quick_cache_load
from ._kernels import _bgr_gray  # cv2's BGR2GRAY, bit-exact (Q15 for integers)

install_notice()  # a compile (cache miss) prints one line on a terminal, never silently


def _px(v):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_px, jit_options={"cache": True, "nogil": True})
def _ov_px(v):
    """One gray pixel as the accumulator's type (int32 / int64 / float64)."""
    if isinstance(v, types.Integer):
        cast = np.int32 if v.bitwidth <= 8 else np.int64
        return lambda v: cast(v)
    return lambda v: np.float64(v)


@njit(cache=True, nogil=True)
def _binned_row(img, nch, r0, c0, k, n, acc, out):
    """``out[:n]``: one row of the binned gray region (mean of ``k x k`` gray pixels each).

    Reads ``k`` frame rows from ``(r0, c0)`` left to right, summing the gray values in ``acc``
    (int32 for uint8, int64 for uint16 frames: exact; float64 for float32), with the
    common bins 1 and 2 written out so that the loops vectorise.
    """
    for j in range(n):
        acc[j] = 0
    for u in range(k):
        # the row from the region's first column: indices from 0 are provably >= 0, so numba
        # needs no wraparound check and the loops vectorise (an offset index costs ~7x here)
        src = img[r0 + u, c0 * nch :]
        if nch == 1:
            if k == 1:
                for j in range(n):
                    acc[j] += _px(src[j])
            elif k == 2:
                for j in range(n):
                    acc[j] += _px(src[2 * j]) + _px(src[2 * j + 1])
            else:
                for j in range(n):
                    for v in range(k):
                        acc[j] += _px(src[j * k + v])
        elif k == 1:
            for j in range(n):
                acc[j] += _bgr_gray(src[3 * j], src[3 * j + 1], src[3 * j + 2])
        elif k == 2:
            for j in range(n):
                c = 6 * j
                acc[j] += _bgr_gray(src[c], src[c + 1], src[c + 2]) + _bgr_gray(
                    src[c + 3], src[c + 4], src[c + 5]
                )
        else:
            for j in range(n):
                for v in range(k):
                    c = 3 * (j * k + v)
                    acc[j] += _bgr_gray(src[c], src[c + 1], src[c + 2])
    inv = 1.0 / (k * k)
    for j in range(n):
        out[j] = acc[j] * inv


@njit(cache=True, nogil=True)
def _haar_rows(a, b, n, ll, emax2, hh):
    """One Haar level of the row pair ``a``, ``b`` (``n`` values each, ``n`` even).

    Writes the ``n / 2`` approximations into ``ll``; keeps the column-wise maximum of the
    squared edge strength ``LH**2 + HL**2 + HH**2`` in ``emax2`` and, when ``hh`` has room,
    writes ``|HH|`` into it (level 1 only, for the noise estimate).
    """
    with_hh = hh.shape[0] >= n // 2
    for j in range(n // 2):
        p = a[2 * j]
        q = a[2 * j + 1]
        r = b[2 * j]
        s = b[2 * j + 1]
        lh = (p + q - r - s) / 2.0
        hl = (p - q + r - s) / 2.0
        d = (p - q - r + s) / 2.0
        e2 = lh * lh + hl * hl + d * d
        emax2[j] = max(emax2[j], e2)
        if with_hh:
            hh[j] = abs(d)
        ll[j] = (p + q + r + s) / 4.0


@njit(cache=True, nogil=True)
def blur_blocks(img, nch, oy, ox, k, nby, nbx, work, acc, emax, samples, rs, cs):
    """Per 16 x 16 block of the binned gray region at frame pixel ``(oy, ox)``: Emax1..3.

    ``img`` is the frame as a 2-D ``(H, W * nch)`` view; the region is ``nby x nbx`` blocks of
    16 x 16 binned pixels (``16 k`` frame pixels each). The region is read once, one band of
    16 binned rows (a row of blocks) at a time, two binned rows at a time: each pair goes
    through Haar level 1 at once, and levels 2 and 3 run on the band's 8 and 4 rows of
    approximations. Edge strengths are compared squared (the square root is taken once per
    block and level: ``sqrt(max e**2) == max sqrt(e**2)``). Writes ``emax[b, 0..2]``
    (Emax1..3) for block ``b = by * nbx + bx`` and, unless ``samples`` is empty, the level-1
    ``|HH|`` of every ``rs``-th coefficient row and ``cs``-th column (``rs`` divides 8) into
    ``samples``, row by row. ``work`` is a ``(20, >= 16 nbx)`` float64 workspace, ``acc`` a
    row of ``>= 16 nbx`` accumulators (int32 for uint8, int64 for uint16, float64 for float
    frames). Returns the (min, max) of the level-3 approximations (the 8 x 8-pixel means).
    """
    n = 16 * nbx
    lo = np.inf
    hi = -np.inf
    empty = work[19, :0]
    take = samples.shape[0] > 0
    m = 0
    for by in range(nby):
        for t in (16, 18, 19):
            work[t, :] = 0.0  # m1, m2, m3: the band's column-wise maxima of e**2
        m1 = work[16]
        hh = work[17] if take else empty
        m2 = work[18]
        m3 = work[19]
        r0 = oy + by * 16 * k
        for i in range(8):
            _binned_row(img, nch, r0 + 2 * i * k, ox, k, n, acc, work[0])
            _binned_row(img, nch, r0 + (2 * i + 1) * k, ox, k, n, acc, work[1])
            _haar_rows(work[0], work[1], n, work[2 + i], m1, hh)
            if take and i % rs == 0:
                for j in range(0, n // 2, cs):
                    samples[m] = hh[j]
                    m += 1
        for i in range(4):
            _haar_rows(work[2 + 2 * i], work[3 + 2 * i], n // 2, work[10 + i], m2, empty)
        for i in range(2):
            _haar_rows(work[10 + 2 * i], work[11 + 2 * i], n // 4, work[14 + i], m3, empty)
        for i in range(2):
            row = work[14 + i]
            for j in range(n // 8):
                v = row[j]
                lo = min(lo, v)
                hi = max(hi, v)
        for bx in range(nbx):
            b = by * nbx + bx
            e1 = 0.0
            for j in range(8 * bx, 8 * bx + 8):
                e1 = max(e1, m1[j])
            e2 = 0.0
            for j in range(4 * bx, 4 * bx + 4):
                e2 = max(e2, m2[j])
            e3 = max(m3[2 * bx], m3[2 * bx + 1])
            emax[b, 0] = math.sqrt(e1)
            emax[b, 1] = math.sqrt(e2)
            emax[b, 2] = math.sqrt(e3)
    return lo, hi


@njit(cache=True, nogil=True)
def blur_counts(emax, n, threshold, out):
    """Tong's rules on the first ``n`` blocks of ``emax``, into ``out`` (int64, 5 counts).

    ``out`` = [edges, Dirac/A-step, G-step/Roof, Roof, blurred G-step/Roof (Emax1 < threshold)].
    """
    for i in range(5):
        out[i] = 0
    for b in range(n):
        e1 = emax[b, 0]
        e2 = emax[b, 1]
        e3 = emax[b, 2]
        if max(e1, e2, e3) <= threshold:
            continue
        out[0] += 1
        if e1 > e2 and e2 > e3:
            out[1] += 1
        roof = e2 > e1 and e2 > e3
        if roof:
            out[3] += 1
        if roof or (e1 < e2 and e2 < e3):
            out[2] += 1
            if e1 < threshold:
                out[4] += 1


quick_cache_load(globals())  # cached kernels load without numba's target refresh (see ._compile)
