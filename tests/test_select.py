"""Plane selection on synthetic stacks made in the test and on the real shared stacks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from focuscam.errors import InputError
from focuscam.select import PlaneResult, select_plane
from focuscam.stacks import Stack, load_stack, save_stack


def texture(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 2, (h // 8, w // 8)).astype(np.float32) * 200 + 25
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)


def defocus_stack(z, z_focus, *, seed=0, texture_img=None):
    """Frames of one texture blurred by a Gaussian whose sigma grows with |z - z_focus|."""
    base = texture(seed=seed) if texture_img is None else texture_img
    frames = []
    for zk in z:
        sigma = 0.3 + 0.8 * abs(zk - z_focus)
        frames.append(np.clip(cv2.GaussianBlur(base, (0, 0), sigma), 0, 255).astype(np.uint8))
    return frames


def test_finds_the_sharpest_plane_sub_step():
    z = np.arange(-10.0, 10.5, 1.0)
    frames = defocus_stack(z, 2.4)
    res = select_plane(Stack.from_frames(frames, z=z, z_unit="um"))
    assert isinstance(res, PlaneResult)
    assert res.state == "focused" and res.z_unit == "um"
    assert abs(res.z - 2.4) < 0.5
    assert res.index == int(np.argmax(res.scores))
    assert len(res.scores) == len(frames)
    assert 0.0 < res.confidence <= 1.0


def test_scores_equal_the_opencv_oracle():
    z = np.arange(9.0)
    frames = defocus_stack(z, 4.0)
    res = select_plane(frames, bin=1)
    oracle = [cv2.Laplacian(f, cv2.CV_64F).var() for f in frames]
    np.testing.assert_allclose(res.scores, oracle, rtol=1e-9)
    assert res.z_unit == "index" and res.bin == 1


def test_path_and_descending_z(tmp_path):
    z = np.arange(6.0, -6.5, -0.5)  # recorded top-down, in mm
    frames = defocus_stack(z, -1.3)
    save_stack(tmp_path / "s", frames, z, z_unit="mm")
    res = select_plane(tmp_path / "s")
    assert res.state == "focused" and res.z_unit == "mm"
    assert abs(res.z - -1.3) < 0.5
    assert abs(z[res.index] - -1.3) <= 0.5
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert {"index", "z", "z_unit", "state", "confidence", "scores", "measure", "reason"} <= set(d)


def test_roi_selects_the_region():
    z = np.arange(11.0)
    left = defocus_stack(z, 2.0, seed=1)
    right = defocus_stack(z, 8.0, seed=2)
    frames = [np.hstack([a, b]) for a, b in zip(left, right, strict=True)]
    w = left[0].shape[1]
    h = left[0].shape[0]
    res_left = select_plane(frames, roi=(0, 0, w, h))
    res_right = select_plane(frames, roi=(w, 0, w, h))
    assert abs(res_left.z - 2.0) < 0.6 and abs(res_right.z - 8.0) < 0.6
    assert res_left.roi == (0, 0, w, h)


def test_noise_stack_fails():
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (96, 128), dtype=np.uint8) for _ in range(25)]
    res = select_plane(frames)
    assert res.state == "failed"
    assert "not significant" in res.reason


def test_noise_stack_16bit_fails():
    rng = np.random.default_rng(6)
    frames = [rng.normal(3000, 80, (200, 260)).clip(0, 65535).astype(np.uint16) for _ in range(25)]
    assert select_plane(frames).state == "failed"


def test_flat_stack_fails():
    frames = [np.full((64, 64), 120, np.uint8)] * 12
    res = select_plane(frames)
    assert res.state == "failed" and "flat" in res.reason


def test_peak_at_the_end_fails_at_edge():
    z = np.arange(10.0)
    res = select_plane(defocus_stack(z, 12.0))
    assert res.state == "failed" and res.at_edge


def test_brightfield_modality_is_used_automatically(tmp_path):
    # contrast falls to a minimum at the focal plane between two maxima (contrast reversal)
    z = np.arange(0.0, 10.0, 0.5)
    base = texture(seed=3)
    frames = []
    for zk in z:
        amp = 0.15 + 0.85 * np.exp(-0.5 * ((abs(zk - 5.0) - 2.5) / 1.2) ** 2)
        frames.append(np.clip(128 + amp * (base - 128), 0, 255).astype(np.uint8))
    save_stack(tmp_path / "bf", frames, z, z_unit="um", extra={"modality": "brightfield"})
    res = select_plane(tmp_path / "bf")
    assert res.mode == "brightfield"
    assert res.state == "focused" and abs(res.z - 5.0) <= 0.5
    # forcing max mode lands on one of the two maxima instead
    res_max = select_plane(tmp_path / "bf", mode="max")
    assert abs(abs(res_max.z - 5.0) - 2.5) <= 0.6


def test_sequence_without_z_uses_index(tmp_path):
    z = np.arange(9.0)
    frames = defocus_stack(z, 6.0)
    save_stack(tmp_path / "seq", frames, z=[None] * 9, z_unit=None, kind="sequence")
    res = select_plane(load_stack(tmp_path / "seq"))
    assert res.z_unit == "index" and res.index == 6


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"name": "sharpness"}, "measure 'sharpness'"),
        ({"mode": "min"}, "mode"),
        ({"roi": (100, 100, 50, 50)}, "roi"),
        ({"bin": 0}, "bin"),
    ],
)
def test_bad_input(kwargs, needle):
    frames = defocus_stack(np.arange(5.0), 2.0)
    with pytest.raises(InputError, match=needle) as info:
        select_plane(frames, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_stack_argument():
    with pytest.raises(InputError, match="stack must be"):
        select_plane(42)


SHARED = ["fpd_webcam_rep1", "dfnn_mitochondria", "maars_bf_yeast"]


@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED)
def test_default_settings_land_within_truth_on_shared_stacks(name):
    from conftest import shared_stack

    stack = load_stack(shared_stack(name))
    res = select_plane(stack)
    truth = stack.truth
    assert res.state == "focused", res.reason
    assert res.z_unit == stack.z_unit
    assert abs(res.z - truth["z"]) <= truth["tolerance"], (res.z, truth, res.bin)


# ---------------------------------------------------------------- focus-curve plots (focuscam.plot)
def test_render_curve_marks_the_peak_where_it_is():
    from focuscam.plot import render_curve

    z = np.linspace(-10, 30, 41)
    s = np.exp(-0.5 * ((z - 12.5) / 4) ** 2)
    img = render_curve(z, s, z_unit="um", peak=12.5, title="t", measure="lapv", size=(800, 500))
    assert img.shape == (500, 800, 3) and img.dtype == np.uint8
    # the peak line is drawn at the x of z = 12.5 in the plot box [90, 775]
    x = round(90 + (12.5 - -10) / 40 * (775 - 90))
    green = np.all(img == (40, 160, 40), axis=2)
    cols = np.nonzero(green.sum(axis=0) > 200)[0]
    assert cols.size and abs(cols.mean() - x) <= 2
    # a failed peak is drawn red instead
    failed = select_plane([np.full((32, 32), 9, np.uint8)] * 5)
    img2 = render_curve(np.arange(5.0), failed.scores, z_unit="index", peak=failed.peak)
    assert np.any(np.all(img2 == (30, 30, 210), axis=2))
    assert not np.any(np.all(img2 == (40, 160, 40), axis=2))


def test_nice_ticks_cover_the_range_with_round_steps():
    from focuscam.plot import nice_ticks

    for lo, hi in [(0, 1), (-110, 20), (-0.95, 0.7), (1234.5, 1299.0), (3, 3)]:
        ticks = nice_ticks(lo, hi)
        assert 2 <= len(ticks) <= 12
        steps = np.diff(ticks)
        np.testing.assert_allclose(steps, steps[0])
        mant = steps[0] / 10 ** np.floor(np.log10(steps[0]))
        assert any(abs(mant - m) < 1e-9 for m in (1, 2, 2.5, 5, 10))


def test_plot_bad_input(tmp_path):
    from focuscam.plot import render_curve, save_curve_png

    with pytest.raises(InputError, match="one score per z"):
        render_curve([1, 2, 3], [1, 2], z_unit="um")
    with pytest.raises(InputError, match="too small"):
        render_curve([1, 2, 3], [1, 2, 3], z_unit="um", size=(100, 80))
    with pytest.raises(InputError, match=r"\.png"):
        save_curve_png(tmp_path / "c.jpg", [1, 2, 3], [1, 2, 3], z_unit="um")
    with pytest.raises(InputError, match="cannot write plot"):
        save_curve_png(tmp_path / "missing" / "c.png", [1, 2, 3], [1, 2, 3], z_unit="um")
    out = save_curve_png(
        tmp_path / "c.png", [1, 2, 3], [1, 2, 3], z_unit="um", truth={"z": 2, "tolerance": 0.5}
    )
    assert cv2.imread(str(out)).shape == (500, 800, 3)
