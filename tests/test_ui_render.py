"""The window's pure drawing: fit-to-size, 16-bit stretch, ROI rectangle, grid colours, plots."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from focuscam.errors import InputError
from focuscam.types import ROI
from focuscam.ui.render import (
    DRAG_COLOUR,
    PLOT_LINE,
    PLOT_MARGINS,
    ROI_COLOUR,
    Layout,
    ViewModel,
    draw_grid,
    draw_roi,
    fit_viewport,
    render_focus_curve,
    render_time_plot,
    render_view,
    score_colour,
    status_lines,
    stretch_limits,
    to_display,
)


def mask_of(img: np.ndarray, colour) -> np.ndarray:
    return np.all(img == np.array(colour, np.uint8), axis=2)


# --------------------------------------------------------------------------- fitting
@pytest.mark.parametrize(
    ("fw", "fh", "bw", "bh"), [(1920, 1080, 960, 720), (116, 55, 960, 720), (400, 400, 960, 696)]
)
def test_fit_viewport_keeps_aspect_fits_and_centres(fw, fh, bw, bh):
    vp = fit_viewport(fw, fh, bw, bh)
    w, h = vp.size
    assert w <= bw and h <= bh
    assert w == bw or h == bh  # as large as fits
    assert abs(w / h - fw / fh) < 0.02
    assert abs(vp.ox - (bw - w) / 2) <= 1 and abs(vp.oy - (bh - h) / 2) <= 1
    # the mapping round-trips
    for x, y in [(0, 0), (fw / 3, fh / 2), (fw, fh)]:
        dx, dy = vp.to_display(x, y)
        assert np.allclose(vp.to_frame(dx, dy), (x, y))


def test_fit_viewport_rejects_empty_sizes():
    with pytest.raises(InputError, match="positive"):
        fit_viewport(0, 10, 100, 100)


# --------------------------------------------------------------------------- display conversion
def test_uint8_gray_and_bgr_are_shown_unchanged():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    out = to_display(gray)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert all(np.array_equal(out[:, :, c], gray) for c in range(3))
    bgr = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert np.array_equal(to_display(bgr), bgr)
    bgra = np.dstack([bgr, np.full((30, 40), 7, np.uint8)])
    assert np.array_equal(to_display(bgra), bgr)


def test_16bit_stretch_maps_percentiles_to_full_range_and_ignores_hot_pixels():
    rng = np.random.default_rng(2)
    frame = rng.integers(1000, 1300, (200, 300), dtype=np.uint16)
    frame[5, 5] = 65535  # a hot pixel must not decide the contrast
    frame[6, 6] = 0
    lo, hi = stretch_limits(frame)
    ref_lo, ref_hi = np.percentile(frame.astype(np.float64), [0.5, 99.5])
    assert lo == pytest.approx(ref_lo) and hi == pytest.approx(ref_hi)
    out = to_display(frame)[:, :, 0]
    # the naive min-max scaling would put everything near 4; the stretch uses the whole range
    assert out.max() == 255 and out.min() == 0
    assert np.percentile(out, 1) < 10 and np.percentile(out, 99) > 245
    # order is kept: brighter input never displays darker
    flat = frame.ravel().astype(np.int64)
    disp = out.ravel().astype(np.int64)
    order = np.argsort(flat, kind="stable")
    assert np.all(np.diff(disp[order]) >= 0)


def test_float_frames_with_nan_and_flat_frames():
    frame = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    frame[0, 0] = np.nan
    out = to_display(frame)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    flat = np.full((8, 8), 500, np.uint16)
    lo, hi = stretch_limits(flat)
    assert hi > lo
    assert to_display(flat).shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (np.zeros((2, 2, 2, 2), np.uint8), "dimensions"),
        (np.zeros((4, 4, 2), np.uint8), "channels"),
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.zeros((4, 4), np.int32), "dtype"),
        ([[1, 2]], "numpy array"),
    ],
)
def test_bad_frames_are_named(bad, words):
    with pytest.raises(InputError, match=words):
        to_display(bad)


# --------------------------------------------------------------------------- overlays
def test_roi_rectangle_is_where_the_roi_is_after_scaling():
    vp = fit_viewport(400, 300, 800, 600)  # scale 2, no offset
    assert vp.scale == 2 and (vp.ox, vp.oy) == (0, 0)
    canvas = np.zeros((600, 800, 3), np.uint8)
    roi = ROI(50, 40, 100, 60)
    draw_roi(canvas, roi, vp, thickness=1)
    m = mask_of(canvas, ROI_COLOUR)
    ys, xs = np.nonzero(m)
    assert (xs.min(), ys.min()) == (100, 80)
    assert (xs.max(), ys.max()) == (299, 199)
    assert not m[81:199, 101:299].any()  # hollow


def test_score_colour_is_ordered():
    vals = np.linspace(0, 1, 11)
    cols = np.array([score_colour(v) for v in vals])
    assert np.all(np.diff(cols[:, 2]) > 0)  # red rises
    assert np.all(np.diff(cols[:, 0]) < 0)  # blue falls
    assert score_colour(float("nan")) == (128, 128, 128)


def test_grid_colours_follow_the_scores():
    vp = fit_viewport(300, 200, 300, 200)
    canvas = np.zeros((200, 300, 3), np.uint8)
    fmap = np.array([[5.0, 1.0, 3.0], [0.5, 9.0, 2.0]])
    area = ROI(0, 0, 300, 200)
    draw_grid(canvas, fmap, area, vp, alpha=1.0)
    # sample each tile's centre: tile (r, c) covers [c*100, (c+1)*100) x [r*100, (r+1)*100)
    centres = np.array([[canvas[r * 100 + 50, c * 100 + 50] for c in range(3)] for r in range(2)])
    red = centres[:, :, 2].astype(int).ravel()
    blue = centres[:, :, 0].astype(int).ravel()
    order = np.argsort(fmap.ravel())
    assert np.all(np.diff(red[order]) > 0)
    assert np.all(np.diff(blue[order]) < 0)
    # extremes are the ends of the colour scale
    assert tuple(centres[1, 1]) == score_colour(1.0) and tuple(centres[1, 0]) == score_colour(0.0)


def test_grid_rejects_a_non_grid():
    vp = fit_viewport(10, 10, 10, 10)
    with pytest.raises(InputError, match="2-D grid"):
        draw_grid(np.zeros((10, 10, 3), np.uint8), np.zeros(3), ROI(0, 0, 10, 10), vp)


# --------------------------------------------------------------------------- plots
def test_time_plot_scrolls_and_rises_with_the_score():
    size = (400, 200)
    t = np.arange(0, 60, 0.5)
    s = t.copy()  # rising
    img = render_time_plot(t, s, size, span_s=30.0)
    assert img.shape == (200, 400, 3)
    m = mask_of(img, PLOT_LINE)
    cols = np.nonzero(m.any(axis=0))[0]
    left, _, right, _ = PLOT_MARGINS
    x0, x1 = left, size[0] - 1 - right
    # only the last 30 s are shown, spanning the whole box width
    assert cols.min() <= x0 + 2 and cols.max() >= x1 - 1
    row_at = lambda x: np.nonzero(m[:, x])[0].mean()  # noqa: E731
    assert row_at(cols.max()) < row_at(cols.min())  # newest (right) is higher (smaller row)
    # falling scores draw the other way
    img2 = render_time_plot(t, -s, size, span_s=30.0)
    m2 = mask_of(img2, PLOT_LINE)
    cols2 = np.nonzero(m2.any(axis=0))[0]
    assert np.nonzero(m2[:, cols2.max()])[0].mean() > np.nonzero(m2[:, cols2.min()])[0].mean()


def test_time_plot_with_few_samples_and_bad_lengths():
    assert render_time_plot([], [], (320, 150)).shape == (150, 320, 3)
    one = render_time_plot([1.0], [3.0], (320, 150))
    assert mask_of(one, PLOT_LINE).any()
    with pytest.raises(InputError, match="one score per time"):
        render_time_plot([1.0, 2.0], [1.0], (320, 150))


def _peak_columns(img: np.ndarray, colour) -> np.ndarray:
    m = mask_of(img, colour)
    counts = m.sum(axis=0)
    return np.nonzero(counts > 0.5 * counts.max())[0] if counts.max() else np.array([], int)


def test_focus_curve_grows_and_marks_the_peak_where_it_is():
    from focuscam.plot import _PEAK_FAIL, _PEAK_OK

    z = np.linspace(-100, 100, 21)
    s = np.exp(-((z - 30) ** 2) / (2 * 25.0**2))
    size = (400, 280)
    partial = render_focus_curve(z[:5], s[:5], size)
    full = render_focus_curve(z, s, size)
    assert partial.shape == full.shape == (280, 400, 3)
    assert not np.array_equal(partial, full)
    assert _peak_columns(full, _PEAK_OK).size == 0  # no peak chosen yet
    with_peak = render_focus_curve(z, s, size, peak=type("P", (), {"z": 30.0, "state": "focused"})())
    cols = _peak_columns(with_peak, _PEAK_OK)
    assert cols.size

    # the marker moves linearly with z: x(80) - x(30) is half of x(30) - x(-70)
    def peak_x(zp: float) -> float:
        img = render_focus_curve(z, s, size, peak=type("P", (), {"z": zp, "state": "focused"})())
        return _peak_columns(img, _PEAK_OK).mean()

    x_lo, x_mid, x_hi = peak_x(-70.0), cols.mean(), peak_x(80.0)
    assert x_lo < x_mid < x_hi
    assert (x_hi - x_mid) / (x_mid - x_lo) == pytest.approx(0.5, abs=0.03)
    assert 0 < x_lo and x_hi < size[0]
    failed = render_focus_curve(z, s, size, peak=type("P", (), {"z": 30.0, "state": "failed"})())
    assert np.array_equal(_peak_columns(failed, _PEAK_FAIL), cols)


# --------------------------------------------------------------------------- the whole view
def test_render_view_draws_frame_roi_status_and_panels():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 4096, (240, 320), dtype=np.uint16)
    layout = Layout()
    view = ViewModel(
        pixels=frame,
        roi=ROI(80, 60, 160, 120),
        drag_roi=ROI(10, 10, 50, 50),
        score=123.4,
        measure="lapv",
        verdict="sharp (per 0.800)",
        fps=29.97,
        measure_ms=1.25,
        dropped=3,
        t=[0.0, 1.0, 2.0],
        scores=[1.0, 2.0, 3.0],
        curve_z=[-10.0, 0.0, 10.0],
        curve_scores=[1.0, 3.0, 2.0],
        peak_z=1.0,
        peak_state="focused",
    )
    canvas, vp = render_view(view, layout)
    assert canvas.shape == (layout.size[1], layout.size[0], 3)
    assert vp is not None and vp.size[0] <= layout.frame_w
    p0, p1 = vp.roi_corners(view.roi)
    assert tuple(canvas[p0[1], (p0[0] + p1[0]) // 2]) == ROI_COLOUR
    q0, _ = vp.roi_corners(view.drag_roi)
    assert tuple(canvas[q0[1] + 5, q0[0]]) == DRAG_COLOUR
    # the side panel has the time plot's line
    side = canvas[:, layout.frame_w :]
    assert mask_of(side, PLOT_LINE).any()
    lines = status_lines(view)
    text = "\n".join(lines)
    for word in ("123.4", "lapv", "sharp", "30.0", "1.25 ms", "dropped  3"):
        assert word in text


def test_render_view_without_a_frame():
    canvas, vp = render_view(ViewModel())
    assert vp is None and canvas.ndim == 3


def test_layout_too_small_is_refused():
    with pytest.raises(InputError, match="layout too small"):
        Layout(side_w=100)


def test_render_view_writes_a_readable_png(tmp_path):
    canvas, _ = render_view(ViewModel(pixels=np.full((50, 80, 3), 90, np.uint8), roi=ROI(0, 0, 10, 10)))
    path = tmp_path / "view.png"
    assert cv2.imwrite(str(path), canvas)
    assert np.array_equal(cv2.imread(str(path)), canvas)
