"""The blur verdict on the real stacks of ../shared/stacks: in-focus frames sharp, far-defocused
frames blurred (frames chosen by their z and the stack's truth, or by the lapv curve for the
hand-focused sequence)."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from conftest import shared_stack

from focuscam.measures import blur_report, measure

pytestmark = pytest.mark.shared


def frames_of(name):
    path = shared_stack(name)
    meta = json.loads((path / "stack.json").read_text())
    return meta, [cv2.imread(str(path / f["file"]), cv2.IMREAD_UNCHANGED) for f in meta["frames"]]


@pytest.mark.parametrize(("name", "far"), [("fpd_webcam_rep1", 30.0), ("udaf_metal_iy000", 15.0)])
def test_z_sweep_in_focus_sharp_and_far_defocused_blurred(name, far):
    """In focus: within the truth's tolerance. Far: more than ``far`` (mm or um) from it."""
    meta, frames = frames_of(name)
    z = np.array([f["z"] for f in meta["frames"]])
    truth = meta["truth"]
    near = np.flatnonzero(np.abs(z - truth["z"]) <= truth["tolerance"])
    contrast = np.array([blur_report(f).contrast for f in frames])
    lit = contrast >= 0.25 * np.median(contrast)  # the scene is visible (not fpd's dark end frames)
    away = np.flatnonzero((np.abs(z - truth["z"]) > far) & lit)
    assert len(near) >= 2 and len(away) >= 4
    sharp = {int(i): blur_report(frames[i]).per for i in near}
    blurred = {int(i): blur_report(frames[i]).per for i in away}
    assert all(p >= 0.05 for p in sharp.values()), sharp
    assert all(p < 0.05 for p in blurred.values()), {i: p for i, p in blurred.items() if p >= 0.05}


def test_scorpion_sharp_moments_sharp_and_defocused_blurred():
    _meta, frames = frames_of("scorpion_lapse")
    lapv = np.array([measure(f, "lapv") for f in frames])
    reports = [blur_report(f) for f in frames]
    top = np.flatnonzero(lapv >= 0.9 * lapv.max())  # the sharp moments (frames 2, 3, 12)
    low = np.flatnonzero(lapv <= 1.1 * lapv.min() + 0.1 * (lapv.max() - lapv.min()))
    assert len(top) >= 3 and len(low) >= 4
    assert all(reports[i].is_blurred for i in low), [reports[i].per for i in low]
    # every sharp moment has more sharp edges than any defocused frame ...
    assert min(reports[i].per for i in top) > max(reports[i].per for i in low)
    # ... and most of its gradual edges keep their finest-scale strength (Tong's BlurExtent)
    assert max(reports[i].blur_extent for i in top) < min(reports[i].blur_extent for i in low)


def test_scorpion_sharp_moments_read_sharp_whatever_the_grid_phase():
    # one grid phase gave frame 12 per = 8/187 = 0.043, within two standard errors (0.016 each)
    # of MinZero: the verdict pools the 16 diagonal grid phases, and so does not depend on where
    # the frame's origin falls on the block grid (the same frame cropped by 0..15 pixels).
    # Frames 2 and 3, the other sharp moments, pool to per = 0.049..0.052: on MinZero itself,
    # so their verdict is a coin toss by design and is not asserted here.
    _meta, frames = frames_of("scorpion_lapse")
    verdicts = {d: blur_report(frames[12][d:, d:]) for d in range(16)}
    assert not any(r.is_blurred for r in verdicts.values()), {d: r.per for d, r in verdicts.items()}
    pooled = [r for r in verdicts.values() if r.phases > 1]
    assert len(pooled) >= 8
    # the crop moves the pooled per by less than one phase's own standard error
    se = min(math.sqrt(r.min_zero * (1 - r.min_zero) * r.phases / r.n_edges) for r in pooled)
    assert max(r.per for r in pooled) - min(r.per for r in pooled) < se


def test_dfnn_per_peaks_at_the_focal_plane():
    # a +-0.95 um sweep of a fluorescence stack: the ends are not far enough to read blurred,
    # but the fraction of sharp edges peaks at the instrument's focal plane
    meta, frames = frames_of("dfnn_mitochondria")
    z = np.array([f["z"] for f in meta["frames"]])
    per = np.array([blur_report(f).per for f in frames])
    truth = meta["truth"]
    assert abs(z[int(np.argmax(per))] - truth["z"]) <= truth["tolerance"]
    assert per[[0, -1]].max() < 0.5 * per.max()


def test_fpd_dark_end_frames_read_blurred_for_want_of_evidence():
    # the last, nearly black frames: a few specks and the sensor's column noise pass the noise
    # floor as Dirac edges; the frames are noise-limited or have too few edges to judge
    _meta, frames = frames_of("fpd_webcam_rep1")
    reports = [blur_report(f) for f in frames[125:]]
    assert all(r.is_blurred and r.no_evidence for r in reports), [(r.n_edges, r.per) for r in reports]
