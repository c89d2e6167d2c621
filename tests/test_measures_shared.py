"""bin="auto" on the real stacks in ../shared/stacks: plain argmax of the lapv curve."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import shared_stack

from focuscam.measures import measure, resolve_bin

pytestmark = pytest.mark.shared


def read_stack(name):
    path = shared_stack(name)
    meta = json.loads((path / "stack.json").read_text())
    frames = [cv2.imread(str(path / f["file"]), cv2.IMREAD_UNCHANGED) for f in meta["frames"]]
    assert all(f is not None for f in frames)
    z = np.array([f["z"] for f in meta["frames"]], float)
    return frames, z, meta["truth"]


def curve(frames, bin="auto"):
    return np.array([measure(f, "lapv", bin=bin) for f in frames])


@pytest.mark.parametrize("name", ["dfnn_mitochondria", "fpd_webcam_rep1"])
def test_auto_bin_argmax_lands_on_truth(name):
    frames, z, truth = read_stack(name)
    scores = curve(frames)
    best = z[int(np.argmax(scores))]
    assert abs(best - truth["z"]) <= truth["tolerance"], (best, truth)


def test_auto_bin_makes_the_noisy_16bit_peak_stand_out():
    frames, _z, _truth = read_stack("dfnn_mitochondria")
    assert resolve_bin(frames[0]) > 1
    raw, auto = curve(frames, 1), curve(frames)
    # raw lapv is noise-dominated (peak ~4% above the median); auto-binned it is far clearer
    assert auto.max() / np.median(auto) > 1.3 > 1.1 > raw.max() / np.median(raw)


def test_auto_bin_keeps_small_clean_frames_unbinned():
    for name in ("fpd_webcam_rep1", "maars_bf_yeast"):
        frames, _z, _truth = read_stack(name)
        assert resolve_bin(frames[0]) == 1
        assert np.array_equal(curve(frames[:3]), curve(frames[:3], 1))


def test_brightfield_yeast_keeps_min_between_two_maxima():
    frames, z, truth = read_stack("maars_bf_yeast")
    s = curve(frames)
    near = np.abs(z - truth["z"]) <= truth["tolerance"]
    dip = int(np.flatnonzero(near)[np.argmin(s[near])])
    left, right = s[:dip].max(), s[dip + 1 :].max()
    # a local minimum inside the tolerance, with a clear maximum on each side
    assert s[dip] < min(s[dip - 1], s[dip + 1])
    assert s[dip] < 0.97 * min(left, right)
    assert z[int(np.argmax(s[:dip]))] < truth["z"] < z[dip + 1 + int(np.argmax(s[dip + 1 :]))]


@pytest.mark.parametrize(
    ("name", "sharp", "defocused"),
    [
        ("fpd_webcam_rep1", [66, 70, 74], [0, 30, 90, 110]),
        ("scorpion_lapse", [2, 3], [0, 1, 8, 9, 10, 13]),
    ],
)
def test_blur_verdict_separates_focused_from_defocused_frames(name, sharp, defocused):
    from focuscam.measures import blur_report

    frames, _z, _truth = read_stack(name)
    import math

    reports = [blur_report(frames[i]) for i in sharp]
    sharp_per = [r.per for r in reports]
    blurred = [blur_report(frames[i]) for i in defocused]
    assert all(r.is_blurred for r in blurred), [r.per for r in blurred]
    # no focused frame is confidently blurred: per is at least MinZero less two standard errors
    # (scorpion's sharp moments pool, phase-invariantly, to per = 0.050..0.053: on the line)
    for r in reports:
        se = math.sqrt(r.min_zero * (1 - r.min_zero) * r.phases / r.n_edges)
        assert r.per >= r.min_zero - 2 * se, sharp_per
    assert min(sharp_per) > max(r.per for r in blurred)
