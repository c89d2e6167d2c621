"""Focus measures against slow oracles (tests/naive.py), and their bad-input errors."""

from __future__ import annotations

import cv2
import naive
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import focuscam
from focuscam.errors import InputError
from focuscam.measures import MEASURES, focus_map, measure, resolve_bin

DTYPES = [np.uint8, np.uint16, np.float32]
COMBOS = [(dt, ch) for dt in DTYPES for ch in (1, 3)]
COMBO_IDS = [f"{np.dtype(dt).name}-{'bgr' if ch == 3 else 'gray'}" for dt, ch in COMBOS]


def random_frame(rng, h, w, dtype, channels, style="uniform"):
    shape = (h, w, 3) if channels == 3 else (h, w)
    if dtype == np.float32:
        return (rng.standard_normal(shape) * 300 + 100).astype(np.float32)
    top = np.iinfo(dtype).max
    if style == "extreme":  # only 0 and max: the largest Laplacians the dtype allows
        return (rng.integers(0, 2, shape) * top).astype(dtype)
    return rng.integers(0, top + 1, shape, dtype=dtype)


def rel_tol(dtype):
    return 1e-9 if dtype != np.float32 else 1e-5


def close(value, ref, dtype, scale=1.0):
    """Relative comparison, with an absolute floor proportional to the data's scale."""
    return abs(value - ref) <= rel_tol(dtype) * (abs(ref) + 1e-6 * scale)


@st.composite
def frame_and_roi(draw, max_side=24):
    dtype, ch = draw(st.sampled_from(COMBOS))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    style = draw(st.sampled_from(["uniform", "extreme"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frame = random_frame(rng, h, w, dtype, ch, style)
    kind = draw(st.sampled_from(["any", "whole", "edge", "thin"]))
    if kind == "whole":
        roi = (0, 0, w, h)
    else:
        x = draw(st.integers(0, w - 1))
        y = draw(st.integers(0, h - 1))
        rw = draw(st.integers(1, w - x))
        rh = draw(st.integers(1, h - y))
        if kind == "edge":  # touch the right/bottom edges
            rw, rh = w - x, h - y
        elif kind == "thin":
            rw = 1
        roi = (x, y, rw, rh)
    return frame, roi


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_and_roi())
def test_lapv_equals_opencv_laplacian_var_on_any_roi(case):
    frame, roi = case
    value = measure(frame, "lapv", roi)
    ref = naive.lapv(frame, roi)
    gmax = float(np.abs(naive.gray64(frame)).max())
    ok = close(value, ref, frame.dtype, gmax**2)
    if frame.dtype == np.float32 and not ok:
        # float32 input: the gray values and Laplacians (|L| <= 8 gmax) carry float32 rounding,
        # so a variance of nearly equal Laplacians (a 1 x 2 ROI) is only known to about
        # eps32 * |L| * its own square root (found by hypothesis: 0.4800459 against 0.4800228)
        eps = float(np.finfo(np.float32).eps)
        ok = abs(value - ref) <= 1e-5 * abs(ref) + 4.0 * eps * 8.0 * gmax * np.sqrt(abs(ref))
    assert ok, (value, ref, frame.dtype, frame.shape, roi)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2), (3, 2)])
@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
def test_lapv_tiny_frames(shape, dtype, ch):
    rng = np.random.default_rng(7)
    frame = random_frame(rng, *shape, dtype, ch)
    assert close(measure(frame), naive.lapv(frame), frame.dtype, 1e6)


@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("name", sorted(MEASURES))
def test_every_measure_matches_its_oracle(name, dtype, ch):
    rng = np.random.default_rng(11)
    frame = random_frame(rng, 23, 30, dtype, ch)
    oracle = naive.ORACLES[name]
    scale = float(np.abs(naive.gray64(frame)).max()) ** 4
    for roi in [None, (0, 0, 30, 23), (5, 4, 11, 9), (0, 10, 7, 13), (29, 0, 1, 23), (3, 22, 27, 1)]:
        value = measure(frame, name, roi)
        ref = oracle(frame, roi)
        assert close(value, ref, frame.dtype, scale), (name, roi, value, ref)


@settings(max_examples=60, deadline=None)
@given(frame_and_roi(max_side=16), st.sampled_from(sorted(MEASURES)))
def test_every_measure_matches_its_oracle_hypothesis(case, name):
    frame, roi = case
    value = measure(frame, name, roi)
    ref = naive.ORACLES[name](frame, roi)
    scale = float(np.abs(naive.gray64(frame)).max()) ** 4
    assert close(value, ref, frame.dtype, scale), (name, roi, value, ref)


@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
def test_bgr_gray_conversion_matches_cvtcolor(dtype, ch):
    """The fused gray is cv2.cvtColor's: glvn of a 1x2 ROI is var/mean of two cv2 gray pixels."""
    rng = np.random.default_rng(3)
    frame = random_frame(rng, 64, 67, dtype, ch)
    g = naive.gray64(frame)
    for y, x in [(0, 0), (10, 20), (63, 65)]:
        pair = g[y, x : x + 2]
        expected = pair.var() / abs(pair.mean()) if pair.mean() else 0.0
        got = measure(frame, "glvn", (x, y, 2, 1))
        assert close(got, expected, frame.dtype, 1e6)


def test_uint8_bgr_gray_bit_exact_q15():
    """Q15 weights reproduce cv2.cvtColor exactly on random uint8 and uint16 data."""
    rng = np.random.default_rng(5)
    for dtype in (np.uint8, np.uint16):
        frame = rng.integers(0, np.iinfo(dtype).max + 1, (300, 301, 3), dtype=dtype)
        g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.int64)
        b, gg, r = (frame[..., i].astype(np.int64) for i in range(3))
        assert np.array_equal(g, (b * 3735 + gg * 19235 + r * 9798 + (1 << 14)) >> 15)
        # and the kernel uses them: lapv of the BGR frame == lapv of cv2's gray, to the last bit
        assert measure(frame, "lapv") == measure(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), "lapv")


def test_teng_matches_cv2_sobel():
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    gx = cv2.Sobel(frame, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(frame, cv2.CV_64F, 0, 1, ksize=3)
    x, y, w, h = 3, 5, 20, 30
    ref = (gx**2 + gy**2)[y : y + h, x : x + w].mean()
    assert abs(measure(frame, "teng", (x, y, w, h)) - ref) <= 1e-12 * ref


def test_roi_type_is_accepted():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    assert measure(frame, roi=focuscam.ROI(2, 3, 10, 12)) == measure(frame, roi=(2, 3, 10, 12))
    assert focuscam.measure is measure


def test_non_contiguous_frame_equals_contiguous_copy():
    rng = np.random.default_rng(2)
    big = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    view = big[::2, 1::2]
    assert measure(view, "lapv") == measure(np.ascontiguousarray(view), "lapv")


def test_read_only_frame_gives_the_same_result():
    rng = np.random.default_rng(12)
    frame = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    frozen = frame.copy()
    frozen.setflags(write=False)
    for name in ("lapv", "wavs"):
        assert measure(frozen, name) == measure(frame, name)


# --- bin ---------------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(frame_and_roi(max_side=40), st.integers(2, 5), st.sampled_from(sorted(MEASURES)))
def test_binned_measures_equal_oracle_on_binned_crop(case, k, name):
    frame, roi = case
    if k > roi[2] or k > roi[3]:
        with pytest.raises(InputError, match="bin"):
            measure(frame, name, roi, bin=k)
        return
    value = measure(frame, name, roi, bin=k)
    ref = naive.ORACLES[name](frame, roi, k)
    scale = float(np.abs(naive.gray64(frame)).max()) ** 4
    # binned means are not exact in float64 in the oracle: a slightly looser relative bound
    assert abs(value - ref) <= max(rel_tol(frame.dtype), 1e-9) * (abs(ref) + 1e-6 * scale), (value, ref)


def test_bin_lapv_equals_opencv_on_binned_crop():
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 65536, (101, 83), dtype=np.uint16)
    roi = (3, 7, 61, 90)
    for k in (2, 3, 4):
        crop = naive.binned(frame[7:97, 3:64].astype(np.float64), k)
        ref = cv2.Laplacian(crop, cv2.CV_64F).var()
        assert abs(measure(frame, "lapv", roi, bin=k) - ref) <= 1e-9 * ref


# --- focus_map ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
@pytest.mark.parametrize("name", sorted(MEASURES))
def test_focus_map_equals_measure_per_tile(name, dtype, ch):
    """One tile-kernel pass gives exactly what measure() gives on each tile's ROI."""
    rng = np.random.default_rng(6)
    frame = random_frame(rng, 47, 61, dtype, ch)
    roi = (4, 3, 50, 41)
    grid = (3, 4)
    fmap = focus_map(frame, name, grid=grid, roi=roi)
    assert fmap.shape == grid and fmap.dtype == np.float64
    x, y, w, h = roi
    for r in range(3):
        for c in range(4):
            x0, x1 = x + c * w // 4, x + (c + 1) * w // 4
            y0, y1 = y + r * h // 3, y + (r + 1) * h // 3
            assert fmap[r, c] == measure(frame, name, (x0, y0, x1 - x0, y1 - y0))


@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
def test_lapv_focus_map_of_one_row_tiles_matches_opencv(dtype, ch):
    """Tiles one row high, touching the frame edges: each tile's variance against cv2 directly.

    sum(L) telescopes per tile in the uint8 kernel (first and last tile rows are special), so
    the tiles where first and last row coincide are checked against the oracle, not measure().
    """
    rng = np.random.default_rng(11)
    frame = random_frame(rng, 9, 23, dtype, ch, "extreme")
    full = cv2.Laplacian(naive.gray64(frame), cv2.CV_64F)
    for roi, grid in (((0, 0, 23, 9), (9, 3)), ((1, 2, 21, 5), (5, 2))):
        x, y, w, h = roi
        fmap = focus_map(frame, "lapv", grid=grid, roi=roi)
        rows, cols = grid
        for r in range(rows):
            for c in range(cols):
                x0, x1 = x + c * w // cols, x + (c + 1) * w // cols
                y0, y1 = y + r * h // rows, y + (r + 1) * h // rows
                ref = full[y0:y1, x0:x1].var()
                assert close(fmap[r, c], ref, dtype, scale=full.var()), (roi, r, c)


def test_two_word_accumulator_carries_past_62_bits():
    """Sums of squares that outgrow int64 (huge 16-bit frames) carry into a second word.

    A frame big enough to reach 2**62 would take gigabytes, so the accumulator is driven directly.
    """
    from numba import njit

    from focuscam.measures._kernels import _acc
    from focuscam.measures._run import _word

    @njit
    def add(out, v):
        _acc(out, 1, v)

    out = np.zeros(4, np.int64)
    total = 0
    for v in ((1 << 62) - 5, 7, (1 << 62) - 1, (1 << 61) + 3):
        add(out, np.int64(v))
        total += v
        assert 0 <= out[1] < (1 << 62)
        assert _word(out, 1) == total
    assert out[2] == 2


def test_focus_map_with_bin_equals_measure_per_tile():
    rng = np.random.default_rng(8)
    frame = rng.integers(0, 65536, (64, 64), dtype=np.uint16)
    fmap = focus_map(frame, "lapv", grid=(2, 2), bin=2)
    assert fmap[1, 0] == measure(frame, "lapv", (0, 32, 32, 32), bin=2)


# --- bad input ---------------------------------------------------------------------------------

GOOD = np.zeros((20, 30), np.uint8)

BAD_CASES = [
    ("frame", lambda: measure([[1, 2], [3, 4]])),
    ("frame", lambda: measure(np.zeros(10, np.uint8))),
    ("frame", lambda: measure(np.zeros((2, 3, 4, 5), np.uint8))),
    ("channels", lambda: measure(np.zeros((5, 5, 4), np.uint8))),
    ("channels", lambda: measure(np.zeros((5, 5, 1), np.uint8))),
    ("dtype", lambda: measure(np.zeros((5, 5), np.float64))),
    ("dtype", lambda: measure(np.zeros((5, 5), np.int32))),
    ("dtype", lambda: measure(np.zeros((5, 5), bool))),
    ("empty", lambda: measure(np.zeros((0, 5), np.uint8))),
    ("roi", lambda: measure(GOOD, roi=(0, 0, 0, 5))),
    ("roi", lambda: measure(GOOD, roi=(0, 0, 5, 0))),
    ("roi", lambda: measure(GOOD, roi=(25, 0, 10, 5))),
    ("roi", lambda: measure(GOOD, roi=(0, 15, 5, 10))),
    ("roi", lambda: measure(GOOD, roi=(-1, 0, 5, 5))),
    ("roi", lambda: measure(GOOD, roi=(0, 0, 5))),
    ("roi", lambda: measure(GOOD, roi=(0, 0, 5, 5, 1))),
    ("roi", lambda: measure(GOOD, roi=(0, 0, 5.5, 5))),
    ("roi", lambda: measure(GOOD, roi="0,0,5,5")),
    ("roi", lambda: measure(GOOD, roi=5)),
    ("NaN", lambda: measure(np.full((5, 5), np.nan, np.float32))),
    ("NaN", lambda: measure(np.array([[0, np.inf], [1, 2]], np.float32))),
    ("name", lambda: measure(GOOD, "sharpness")),
    ("name", lambda: measure(GOOD, None)),
    ("bin", lambda: measure(GOOD, bin=0)),
    ("bin", lambda: measure(GOOD, bin=17)),
    ("bin", lambda: measure(GOOD, bin=2.5)),
    ("bin", lambda: measure(GOOD, bin="2")),
    ("bin", lambda: measure(GOOD, bin=True)),
    ("bin", lambda: measure(GOOD, roi=(0, 0, 3, 3), bin=4)),
    ("grid", lambda: focus_map(GOOD, grid=(0, 2))),
    ("grid", lambda: focus_map(GOOD, grid=(2,))),
    ("grid", lambda: focus_map(GOOD, grid=(21, 2))),
    ("grid", lambda: focus_map(GOOD, grid="3x3")),
    ("name", lambda: focus_map(GOOD, "nope")),
    ("frame_or_shape_dtype", lambda: resolve_bin(42)),
]


@pytest.mark.parametrize(("word", "call"), BAD_CASES, ids=[f"{i}-{w}" for i, (w, _) in enumerate(BAD_CASES)])
def test_bad_input_raises_input_error_naming_the_problem(word, call):
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert word.lower() in message.lower()
    assert ":" in message and "\n" not in message  # one line: problem, then the fix
    assert isinstance(info.value, ValueError)


def test_nan_outside_the_read_pixels_is_ignored():
    frame = np.zeros((20, 20), np.float32)
    frame[19, 19] = np.nan
    assert measure(frame, "lapv", (0, 0, 5, 5)) == 0.0


# --- resolve_bin -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "dtype", "roi", "expected"),
    [
        ((480, 640), np.uint8, None, 1),  # 480 // 512 = 0 -> 1
        ((1080, 1920, 3), np.uint8, None, 2),
        ((2160, 3840, 3), np.uint8, None, 4),
        ((800, 256), np.uint16, None, 2),
        ((3648, 5472), np.uint16, None, 8),  # capped
        ((3648, 5472), np.float32, (0, 0, 400, 300), 2),  # the ROI, not the frame, counts
        ((116, 55), np.uint16, None, 1),  # tiny: never binned
        ((63, 5000), np.uint16, None, 1),
    ],
)
def test_resolve_bin_rule(shape, dtype, roi, expected):
    assert resolve_bin((shape, dtype), roi) == expected
    frame = np.zeros(shape, dtype)
    assert resolve_bin(frame, roi) == expected


def test_auto_bin_uses_the_resolved_factor():
    frame = np.random.default_rng(0).integers(0, 65536, (300, 400), dtype=np.uint16)
    assert resolve_bin(frame) == 2
    assert measure(frame, bin="auto") == measure(frame, bin=2) != measure(frame, bin=1)
    assert measure(frame, roi=(0, 0, 100, 100), bin="auto") == measure(frame, roi=(0, 0, 100, 100))


@pytest.mark.parametrize(("dtype", "ch"), COMBOS, ids=COMBO_IDS)
def test_lapv_exact_on_wide_extreme_rows(dtype, ch):
    """Rows wider than the 2048-column flush of the narrow uint8 sums, with the largest
    possible Laplacians (a 0/max checkerboard: |L| = 4 * max everywhere)."""
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    yy, xx = np.mgrid[0:5, 0:4501]
    gray = (((yy + xx) % 2) * top).astype(dtype)
    frame = np.repeat(gray[:, :, None], 3, axis=2) if ch == 3 else gray
    for roi in [None, (1, 1, 4499, 3), (0, 2, 2049, 1), (2047, 0, 2454, 5)]:
        value = measure(frame, "lapv", roi)
        ref = naive.lapv(frame, roi)
        assert abs(value - ref) <= rel_tol(frame.dtype) * ref, (roi, value, ref)
