"""The two measures added for issue 11 (vol5, fftb) beyond the shared oracle/property tests, and
focus_map with bin="auto" on gray frames."""

from __future__ import annotations

import cv2
import naive
import numpy as np
import pytest

from focuscam.measures import MEASURES, focus_map, measure, spectral


def test_at_least_eleven_measures_each_with_an_oracle():
    assert len(MEASURES) >= 11
    assert {"vol5", "fftb"} <= set(MEASURES)
    assert set(MEASURES) <= set(naive.ORACLES)


def test_fftb_is_the_energy_of_its_band_only():
    """A sine inside the band scores its variance; one outside it (or a constant) scores ~0."""
    h, w = 64, 64
    _yy, xx = np.mgrid[0:h, 0:w]
    inside = 1000 + 100 * np.sin(2 * np.pi * xx / 8)  # 1/8 cycles/px: in [1/32, 1/4]
    outside = 1000 + 100 * np.sin(2 * np.pi * xx / 2.5)  # 0.4 cycles/px: above the band
    score_in = measure(inside.astype(np.float32), "fftb")
    score_out = measure(outside.astype(np.float32), "fftb")
    # the windowed sine's variance is 100**2 / 2; the Hann window leaks a little out of the band
    assert score_in == pytest.approx(100**2 / 2, rel=0.05)
    assert score_out < 1e-3 * score_in
    assert measure(np.full((40, 50), 7, np.uint16), "fftb") == 0.0


def test_fftb_of_a_large_roi_is_the_mean_over_bounded_blocks(monkeypatch):
    """Beyond BLOCK pixels a side, blocks are measured one at a time and averaged by pixels."""
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.random((40, 70)), (0, 0), 1.5).astype(np.float32)
    monkeypatch.setattr(spectral, "BLOCK", 32)  # 40 x 70 -> 2 x 3 blocks of 20 x 23..24
    blocks = [
        (0, 0, 23, 20),
        (23, 0, 23, 20),
        (46, 0, 24, 20),
        (0, 20, 23, 20),
        (23, 20, 23, 20),
        (46, 20, 24, 20),
    ]
    want = sum(naive.fftb(frame, b) * b[2] * b[3] for b in blocks) / frame.size
    assert measure(frame, "fftb") == pytest.approx(want, rel=1e-9)


def test_fftb_and_vol5_discount_pixel_noise_more_than_the_variance():
    """Pixel noise adds to the gray-level variance in full; F5 and the band-pass discount most of it."""
    rng = np.random.default_rng(4)
    scene = cv2.GaussianBlur(rng.random((128, 128)), (0, 0), 3.0) * 200 + 20
    noisy = scene + rng.normal(0, 5, scene.shape)

    def gain(name):
        return measure(noisy.astype(np.float32), name) / measure(scene.astype(np.float32), name)

    variance_gain = noisy.var() / scene.var()
    assert gain("vol5") < variance_gain and gain("fftb") < variance_gain


def test_focus_map_auto_bin_takes_gray_frames():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 65536, (300, 400), dtype=np.uint16)
    fmap = focus_map(frame, "lapv", (2, 2), bin="auto")
    assert fmap.shape == (2, 2) and np.all(np.isfinite(fmap))


@pytest.mark.parametrize(("dtype", "ch"), [(np.uint8, 1), (np.uint8, 3), (np.uint16, 1)])
def test_glvn_hot_path_is_exact_across_its_column_blocks(dtype, ch):
    """The uint8/uint16 glvn kernel sums in narrow lanes per 2048-column block: rows wider than
    a block, full-range pixels, tiles straddling a block edge, equal to the exact oracle."""
    from fractions import Fraction

    from focuscam.measures._kernels_stat import BLOCK

    rng = np.random.default_rng(15)
    top = np.iinfo(dtype).max
    shape = (3, 2 * BLOCK + 37, 3) if ch == 3 else (3, 2 * BLOCK + 37)
    frame = rng.integers(top - 3, top + 1, shape, dtype=dtype)  # near-saturated: largest sums
    for roi in [None, (BLOCK - 5, 0, 11, 3), (1, 1, 2 * BLOCK + 30, 2)]:
        x, y, w, h = roi or (0, 0, shape[1], 3)
        g = naive.gray64(frame)[y : y + h, x : x + w].astype(np.int64).ravel().tolist()
        n, s1, s2 = len(g), sum(g), sum(v * v for v in g)
        exact = float(Fraction(n * s2 - s1 * s1, n * n) / Fraction(s1, n))
        assert measure(frame, "glvn", roi) == pytest.approx(exact, rel=1e-12, abs=1e-12)
    grid = focus_map(frame, "glvn", grid=(1, 3))
    cols = [0, shape[1] // 3, 2 * shape[1] // 3, shape[1]]
    for c in range(3):
        assert grid[0, c] == measure(frame, "glvn", (cols[c], 0, cols[c + 1] - cols[c], 3))


def _exact_lapv(gray: np.ndarray, roi) -> float:
    """The exact variance of the 4-neighbour Laplacian (BORDER_REFLECT_101) over ``roi``."""
    from fractions import Fraction

    lap = cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F).astype(np.int64)
    x, y, w, h = roi
    v = lap[y : y + h, x : x + w].ravel().tolist()
    n, s1, s2 = len(v), sum(v), sum(t * t for t in v)
    return float(Fraction(n * s2 - s1 * s1, n * n))


@pytest.mark.parametrize(("dtype", "ch"), [(np.uint8, 1), (np.uint8, 3), (np.uint16, 1)])
def test_lapv_hot_path_is_exact_at_extreme_laplacians_across_blocks(dtype, ch):
    """The uint8/uint16 lapv kernels sum squares in 32-bit partial sums per 2048-column block:
    a checkerboard of 0 and the dtype's maximum gives |L| = 4 * max at every pixel (the largest
    partial sums), on rows wider than two blocks, ROIs straddling a block edge and tiles."""
    top = np.iinfo(dtype).max
    width = 2 * 2048 + 37
    board = ((np.indices((5, width)).sum(axis=0) % 2) * top).astype(dtype)
    rng = np.random.default_rng(3)
    board[4, ::7] = rng.integers(0, top + 1, board[4, ::7].shape, dtype=dtype)  # not all extreme
    frame = np.repeat(board[:, :, None], 3, axis=2) if ch == 3 else board
    gray = naive.gray64(frame).astype(np.int64)
    for roi in [(0, 0, width, 5), (2048 - 5, 1, 11, 3), (1, 0, width - 2, 4), (0, 4, width, 1)]:
        assert measure(frame, "lapv", roi) == pytest.approx(_exact_lapv(gray, roi), rel=1e-12)
    grid = focus_map(frame, "lapv", grid=(1, 3))
    cols = [0, width // 3, 2 * width // 3, width]
    for c in range(3):
        assert grid[0, c] == measure(frame, "lapv", (cols[c], 0, cols[c + 1] - cols[c], 5))


@pytest.mark.parametrize("ch", [1, 3])
def test_teng_hot_path_is_exact_at_extreme_gradients_across_blocks(ch):
    """The uint8 teng kernel sums Gx**2 and Gy**2 in int32 per 2048-column block: pixels of 0
    and 255 only (gradients up to 4 * 255), rows wider than two blocks, frame edges, ROIs
    straddling a block edge and a grid, equal to the exact mean of cv2.Sobel's squares."""
    from fractions import Fraction

    width = 2 * 2048 + 37
    rng = np.random.default_rng(9)
    board = (rng.integers(0, 2, (6, width)) * 255).astype(np.uint8)
    board[:, 1::4] = board[:, 0::4][:, : board[:, 1::4].shape[1]] ^ 255  # many |Gx| = 1020
    frame = np.repeat(board[:, :, None], 3, axis=2) if ch == 3 else board
    gray = naive.gray64(frame)
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0).astype(np.int64)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1).astype(np.int64)
    energy = gx * gx + gy * gy
    for roi in [(0, 0, width, 6), (2048 - 5, 1, 11, 3), (1, 0, width - 2, 5), (0, 5, width, 1)]:
        x, y, w, h = roi
        exact = Fraction(int(energy[y : y + h, x : x + w].sum()), w * h)
        assert measure(frame, "teng", roi) == pytest.approx(float(exact), rel=1e-15)
    grid = focus_map(frame, "teng", grid=(2, 3))
    assert grid[1, 2] == measure(frame, "teng", (2 * width // 3, 3, width - 2 * width // 3, 3))
