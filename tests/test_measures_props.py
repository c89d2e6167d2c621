"""Properties of the focus measures: monotone in blur, scale/offset behaviour, tiling, blur_report."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from focuscam.errors import InputError
from focuscam.measures import MEASURES, BlurReport, blur_report, measure

SIGMAS = [0.6, 1.0, 1.5, 2.5, 4.0]


def textured(dtype=np.uint8, channels=1, size=160, seed=0):
    """Blocks of random gray plus a fine (2-pixel) random texture, scaled to the dtype.

    (Texture of 1-pixel white noise would make Vollath's F4 rise under a slight blur: white
    noise has no lag-1 autocorrelation, which a little blur creates.)
    """
    rng = np.random.default_rng(seed)
    blocks = np.kron(rng.random((size // 8 + 1, size // 8 + 1)), np.ones((8, 8)))[:size, :size]
    fine = np.kron(rng.random((size // 2 + 1, size // 2 + 1)), np.ones((2, 2)))[1 : size + 1, 1 : size + 1]
    img = 0.6 * blocks + 0.4 * fine
    if channels == 3:
        img = np.stack([img, np.roll(img, 3, axis=1), np.roll(img, 5, axis=0)], axis=2)
    top = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}[dtype]
    return (img * top).astype(dtype)


@pytest.mark.parametrize("name", sorted(MEASURES))
@pytest.mark.parametrize(("dtype", "ch"), [(np.uint8, 1), (np.uint16, 3), (np.float32, 1)])
def test_more_blur_gives_a_lower_score(name, dtype, ch):
    sharp = textured(dtype, ch)
    scores = [measure(sharp, name)]
    for sigma in SIGMAS:
        scores.append(measure(cv2.GaussianBlur(sharp, (0, 0), sigma), name))
    assert all(a > b for a, b in itertools.pairwise(scores)), scores


DEGREES = {
    "lapv": 2,
    "lapm": 1,
    "lapd": 1,
    "teng": 2,
    "tenv": 4,
    "bren": 2,
    "glvn": 1,
    "vola": 2,
    "wavs": 2,
    "vol5": 2,
    "fftb": 2,
}


@pytest.mark.parametrize(("name", "degree"), sorted(DEGREES.items()))
def test_gain_scales_each_measure_by_its_degree(name, degree):
    img = textured(np.float32)
    # multiplying by 4 is exact in float32, so the ratio is the degree's power to rounding
    ratio = measure(img * np.float32(4), name) / measure(img, name)
    assert ratio == pytest.approx(4.0**degree, rel=1e-9)


@pytest.mark.parametrize("name", ["lapv", "lapm", "lapd", "teng", "tenv", "bren", "wavs"])
def test_derivative_measures_ignore_an_offset(name):
    img = textured(np.uint16)
    img = img // 2
    assert measure(img + np.uint16(1000), name) == measure(img, name)


def test_glvn_is_invariant_to_tiling_and_relative_to_the_mean():
    img = textured(np.uint16, size=64)
    assert measure(np.tile(img, (2, 3)), "glvn") == pytest.approx(measure(img, "glvn"), rel=1e-12)
    g = img.astype(np.float64)
    assert measure(img, "glvn") == pytest.approx(g.var() / g.mean(), rel=1e-12)


def test_bin_changes_nothing_on_a_constant_block_image():
    # an image constant on 2x2 blocks binned by 2 is the same image at half size
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    big = np.kron(small, np.ones((2, 2), np.uint8))
    from naive import binned, lapv

    assert np.array_equal(binned(big.astype(float), 2), small)
    assert measure(big, "lapv", bin=2) == pytest.approx(lapv(small), rel=1e-12)


# --- blur_report -------------------------------------------------------------------------------


def sharp_cells(size=256, cell=7, seed=3, top=255, dtype=np.uint8):
    """A piecewise-constant scene: random gray cells with sharp steps at every Haar phase."""
    rng = np.random.default_rng(seed)
    cells = rng.random((size // cell + 1, size // cell + 1))
    return (np.kron(cells, np.ones((cell, cell)))[:size, :size] * top).astype(dtype)


def test_blur_report_sharp_scene_is_not_blurred():
    report = blur_report(sharp_cells())
    assert isinstance(report, BlurReport)
    assert not report.is_blurred and report.per >= report.min_zero
    d = report.to_dict()
    assert d["per"] == report.per and set(d) >= {"per", "blur_extent", "is_blurred", "n_edges"}


def test_blur_report_white_noise_is_below_the_noise_floor():
    # pure white noise has no edge above its own noise floor (4.5 sigma): no sharp edges
    rng = np.random.default_rng(0)
    report = blur_report(rng.integers(0, 256, (256, 256), dtype=np.uint8))
    assert report.n_edges <= 0.02 * (256 // 16) ** 2 and report.is_blurred
    assert report.threshold == pytest.approx(4.5 * report.noise)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_blur_report_heavy_blur_is_blurred_and_extent_grows(dtype):
    base = sharp_cells()
    scale = {np.uint8: 1, np.uint16: 257, np.float32: 1 / 255}[dtype]
    extents = []
    for sigma in (0.0, 1.5, 2.5, 4.0):
        img = base if sigma == 0 else cv2.GaussianBlur(base, (0, 0), sigma)
        img = (img.astype(np.float64) * scale).astype(dtype)
        report = blur_report(img, bin=1)  # the same scale for every dtype (auto bins wide ones)
        extents.append(report.blur_extent)
        assert report.is_blurred == (sigma > 0)
    assert extents == sorted(extents) and extents[-1] > extents[0] + 0.5, extents


@pytest.mark.parametrize(("gain", "offset"), [(4.0, 0.0), (0.25, 0.1), (1.0, 100.0)])
def test_blur_report_is_the_same_under_gain_and_offset(gain, offset):
    # the threshold follows the frame's own contrast and noise, not its dtype's full scale
    base = sharp_cells(dtype=np.float32, top=1.0)
    for sigma in (0.0, 1.0, 3.0):
        img = base if sigma == 0 else cv2.GaussianBlur(base, (0, 0), sigma)
        a, b = blur_report(img), blur_report((img * np.float32(gain) + np.float32(offset)).astype(np.float32))
        assert (a.n_edges, a.n_dirac_astep, a.n_gstep_roof, a.is_blurred) == (
            b.n_edges,
            b.n_dirac_astep,
            b.n_gstep_roof,
            b.is_blurred,
        )


def test_blur_report_12_bit_data_in_uint16_is_judged_like_8_bit():
    base = sharp_cells()
    for sigma in (0.0, 2.5):
        img8 = base if sigma == 0 else cv2.GaussianBlur(base, (0, 0), sigma)
        img12 = (img8.astype(np.uint16) * 16).astype(np.uint16)  # 0..4080 in a 16-bit container
        assert blur_report(img12, bin=1).is_blurred == blur_report(img8, bin=1).is_blurred == (sigma > 0)


def test_blur_report_roi_and_bad_input():
    frame = np.zeros((160, 170), np.uint8)
    frame[20:148, 30:158] = sharp_cells(128)
    assert not blur_report(frame, roi=(30, 20, 128, 128)).is_blurred
    # 16 blocks cannot resolve a fraction of 1 / 20: no evidence of sharpness, read as blurred
    small = blur_report(frame, roi=(30, 20, 64, 64))
    assert small.per >= small.min_zero and small.no_evidence and small.is_blurred
    assert blur_report(frame, roi=(0, 0, 16, 16)).n_edges == 0
    for kwargs, word in [
        ({"roi": (0, 0, 15, 40)}, "16x16"),
        ({"threshold": -1}, "threshold"),
        ({"min_zero": 2}, "min_zero"),
        ({"bin": 11}, "bin 11 leaves"),
        ({"bin": 0}, "bin"),
    ]:
        with pytest.raises(InputError, match=word):
            blur_report(frame, **kwargs)
    with pytest.raises(InputError, match="NaN"):
        blur_report(np.full((32, 32), np.nan, np.float32))


def test_blur_report_ideal_step_edge_is_equal_across_levels():
    # A vertical step inside every 2x2 Haar block: the level-scaled edge maps agree, so a sharp
    # step is an edge at every level with Emax in gray levels (not doubled per level). 32 edge
    # blocks (more than 1 / MinZero), so one grid phase settles the verdict (phases == 1).
    img = np.zeros((512, 64), np.uint8)
    img[:, 33:] = 200
    report = blur_report(img)
    assert report.n_edges > 0 and report.phases == 1
    assert report.n_gstep_roof == 0  # an ideal step must not read as a blurred (growing) edge
    assert report.per == 1.0 and not report.is_blurred
    blurred = blur_report(cv2.GaussianBlur(img, (0, 0), 3.0))
    assert blurred.n_gstep_roof == blurred.n_edges > 0 and blurred.is_blurred


def test_blur_report_featureless_frame_is_fully_blurred():
    report = blur_report(np.full((64, 64), 90, np.uint8))
    assert report.n_edges == 0 and report.is_blurred and report.blur_extent == 1.0
