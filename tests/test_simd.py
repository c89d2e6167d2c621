"""The explicit vector loops of focuscam.measures._simd against plain integer sums.

Every column count from 0 to a few vectors and every start offset, so that whole vectors, the
unrolled groups, the leftover vectors and the masked last vector are each exercised; extreme
pixels (0 and the dtype's maximum) give the largest int32 lane sums. The same checks run once
more in a subprocess compiled for a generic CPU (no AVX2), where the loops take their generic
IR instead of the x86 intrinsics.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from focuscam.measures import _simd


@njit(cache=False)
def _lap_call(up, mid, dn, c, n):
    return _simd.lap_sq_u8(up, mid, dn, c, n)


@njit(cache=False)
def _lap16_call(up, mid, dn, c, n):
    return _simd.lap_sq_u16(up, mid, dn, c, n)


@njit(cache=False)
def _sobel_call(up, mid, dn, c, n):
    return _simd.sobel_sq_u8(up, mid, dn, c, n)


@njit(cache=False)
def _sums_call(row, c, n):
    return _simd.row_sums(row, c, n)


def _lap_sq(up, mid, dn, c, n):
    u, d = up.astype(np.int64), dn.astype(np.int64)
    m = mid.astype(np.int64)
    lap = u[c : c + n] + d[c : c + n] + m[c - 1 : c + n - 1] + m[c + 1 : c + n + 1] - 4 * m[c : c + n]
    return int((lap * lap).sum())


def _sobel_sq(up, mid, dn, c, n):
    u, m, d = (r.astype(np.int64) for r in (up, mid, dn))
    s = slice(c - 1, c + n - 1), slice(c, c + n), slice(c + 1, c + n + 1)
    gx = (u[s[2]] - u[s[0]]) + 2 * (m[s[2]] - m[s[0]]) + (d[s[2]] - d[s[0]])
    gy = (d[s[0]] - u[s[0]]) + 2 * (d[s[1]] - u[s[1]]) + (d[s[2]] - u[s[2]])
    return int((gx * gx + gy * gy).sum())


def check_loops(seed: int = 0) -> None:
    """Assert every loop equals its plain sum (also run by the generic-CPU subprocess)."""
    rng = np.random.default_rng(seed)
    width = 300
    for style in ("random", "checker"):
        if style == "random":
            rows = rng.integers(0, 256, (3, width), dtype=np.uint8)
        else:  # |L| = 1020 and |Gy| = 1020 at every column: the largest squares
            rows = np.zeros((3, width), np.uint8)
            rows[1, 1::2] = 255
            rows[0, 0::2] = 255
            rows[2, 0::2] = 255
        up, mid, dn = rows
        for c in (1, 2, 7, 33):
            for n in range(0, width - c - 1):
                lap, sob = _lap_call(up, mid, dn, c, n), _sobel_call(up, mid, dn, c, n)
                assert lap == (_lap_sq(up, mid, dn, c, n) if n >= 32 else 0), (style, c, n)
                assert sob == (_sobel_sq(up, mid, dn, c, n) if n >= 16 else 0), (style, c, n)
    for style in ("random", "checker", "near-bytes"):
        if style == "random":
            rows = rng.integers(0, 65536, (3, width), dtype=np.uint16)
        elif style == "checker":  # |L| = 4 * 65535 at every column
            rows = np.zeros((3, width), np.uint16)
            rows[1, 1::2] = 65535
            rows[0, 0::2] = rows[2, 0::2] = 65535
        else:  # low and high bytes of opposite signs in L (255 / 256 steps)
            rows = rng.choice(np.array([255, 256, 65280, 65535], np.uint16), (3, width))
        up, mid, dn = rows
        for c in (1, 2, 17):
            for n in range(0, width - c - 1):
                got = _lap16_call(up, mid, dn, c, n)
                assert got == (_lap_sq(up, mid, dn, c, n) if n >= 16 else 0), (style, c, n)
    for dtype, step in ((np.uint8, 32), (np.uint16, 16)):
        top = int(np.iinfo(dtype).max)
        for row in (rng.integers(0, top + 1, 400, dtype=dtype), np.full(400, top, dtype)):
            v = row.astype(np.int64)
            for c in (0, 1, 5, 31):
                for n in range(0, 400 - c):
                    s1, s2 = _sums_call(row, c, n)
                    seg = v[c : c + n]
                    want = (int(seg.sum()), int((seg * seg).sum())) if n >= step else (0, 0)
                    assert (s1, s2) == want, (dtype, c, n)


def test_vector_loops_equal_plain_sums():
    check_loops()


def test_row_sums_exact_at_their_block_limit():
    """2**16 saturated values per call: the largest int32 lane sums the callers allow."""
    for dtype in (np.uint8, np.uint16):
        top = int(np.iinfo(dtype).max)
        row = np.full(1 << 16, top, dtype)
        assert _sums_call(row, 0, 1 << 16) == ((1 << 16) * top, (1 << 16) * top * top)


def test_lap_loops_exact_at_their_limit():
    """16384 columns of the largest |L| in one call (the documented int32 bound)."""
    n = 16384
    for dtype, call in ((np.uint8, _lap_call), (np.uint16, _lap16_call)):
        top = int(np.iinfo(dtype).max)
        rows = np.zeros((3, n + 2), dtype)
        rows[1, 1::2] = top
        rows[0, 0::2] = top
        rows[2, 0::2] = top
        assert call(rows[0], rows[1], rows[2], 1, n) == n * (4 * top) ** 2


@pytest.mark.skipif(not _simd._AVX2, reason="the generic IR already runs here")
def test_vector_loops_generic_ir_without_avx2(tmp_path):
    """Compiled for a CPU without AVX2 (fresh cache), the generic IR gives the same sums."""
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path),
        NUMBA_CPU_NAME="generic",
        NUMBA_CPU_FEATURES="+sse2",
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_simd\n"
        "from focuscam.measures import _simd\n"
        "assert not _simd._AVX2\n"
        "test_simd.check_loops(1)\n"
        "print('ok')\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(
        [sys.executable, "-c", code, here], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
