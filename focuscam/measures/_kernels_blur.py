"""numba kernels of the blur verdict (Tong et al. 2004): computation only, no validation.

One decorator policy, as for the focus measures: ``@njit(cache=True, nogil=True)``.

:func:`blur_blocks` reads the analysed region of the frame once, one 16 x 16 block of the
(binned) gray image at a time, into a 16 x 16 workspace, and computes in that block the three
Haar levels, their edge maps and the block's ``Emax1..3``, the mean square of its level-1
``HH`` coefficients (for the noise floor) and the range of its level-3 ``LL`` values (8 x 8
means, for the contrast). :func:`blur_counts` then classifies the blocks against a threshold.
Nothing is allocated per call: the caller passes the workspaces.

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

from ._compile import install_notice

install_notice()  # a compile (cache miss) prints one line on a terminal, never silently

# Q15 weights of cv2.cvtColor(COLOR_BGR2GRAY) for 8- and 16-bit frames (bit-exact with OpenCV)
_QB, _QG, _QR = 3735, 19235, 9798


def _bgr(b, g, r):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_bgr, jit_options={"cache": True, "nogil": True})
def _ov_bgr(b, g, r):
    if isinstance(b, types.Integer):

        def impl_int(b, g, r):
            return np.float64((np.int64(b) * _QB + np.int64(g) * _QG + np.int64(r) * _QR + 16384) >> 15)

        return impl_int

    def impl_float(b, g, r):
        return np.float64(b) * 0.114 + np.float64(g) * 0.587 + np.float64(r) * 0.299

    return impl_float


@njit(cache=True, nogil=True)
def _gray_at(img, nch, r, c):
    if nch == 1:
        return np.float64(img[r, c])
    return _bgr(img[r, 3 * c], img[r, 3 * c + 1], img[r, 3 * c + 2])


@njit(cache=True, nogil=True)
def _load_block(img, nch, r0, c0, k, buf):
    inv = 1.0 / (k * k)
    for i in range(16):
        for j in range(16):
            s = 0.0
            for u in range(k):
                for v in range(k):
                    s += _gray_at(img, nch, r0 + i * k + u, c0 + j * k + v)
            buf[i, j] = s * inv


@njit(cache=True, nogil=True)
def _level(src, n, dst):
    """One Haar level of the ``n x n`` top-left of ``src`` into ``dst``; returns (Emax, sum HH^2)."""
    emax = 0.0
    hh2 = 0.0
    for i in range(n // 2):
        for j in range(n // 2):
            p = src[2 * i, 2 * j]
            q = src[2 * i, 2 * j + 1]
            r = src[2 * i + 1, 2 * j]
            s = src[2 * i + 1, 2 * j + 1]
            lh = (p + q - r - s) / 2.0
            hl = (p - q + r - s) / 2.0
            hh = (p - q - r + s) / 2.0
            e = math.sqrt(lh * lh + hl * hl + hh * hh)
            if e > emax:
                emax = e
            hh2 += hh * hh
            dst[i, j] = (p + q + r + s) / 4.0
    return emax, hh2


@njit(cache=True, nogil=True)
def blur_blocks(img, nch, oy, ox, k, nby, nbx, buf, emax, hh):
    """Per 16 x 16 block of the binned gray region at frame pixel ``(oy, ox)``: Emax1..3.

    ``img`` is the frame as a 2-D ``(H, W * nch)`` view; the region is ``nby x nbx`` blocks of
    16 x 16 binned pixels (``16 k`` frame pixels each). Writes ``emax[b, 0..2]`` (Emax1..3)
    and ``hh[b]`` (mean of the block's 64 level-1 ``HH**2``) for block ``b = by * nbx + bx``;
    ``buf`` is a ``(2, 16, 16)`` float64 workspace. Returns the (min, max) of the level-3
    approximations (the region's 8 x 8-pixel means).
    """
    lo = np.inf
    hi = -np.inf
    a = buf[0]
    t = buf[1]
    for by in range(nby):
        for bx in range(nbx):
            b = by * nbx + bx
            _load_block(img, nch, oy + by * 16 * k, ox + bx * 16 * k, k, a)
            e1, hh2 = _level(a, 16, t)
            e2, _unused = _level(t, 8, a)
            e3, _unused = _level(a, 4, t)
            emax[b, 0] = e1
            emax[b, 1] = e2
            emax[b, 2] = e3
            hh[b] = hh2 / 64.0
            for i in range(2):
                for j in range(2):
                    v = t[i, j]
                    if v < lo:
                        lo = v
                    if v > hi:
                        hi = v
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
