"""``bin="auto"`` in closed loop: a noise-drowned first search is scored again at coarser bins.

Dim synthetic stacks (few photons on a strong background, small 16-bit frames) whose curve
at the automatic factor shows no significant peak while ``select`` finds it at bin 2 or 4.
"""

from __future__ import annotations

import numpy as np
import pytest

from focuscam import select_plane
from focuscam._rebin import KeptFrames, _auto_and_side
from focuscam.autofocus import Autofocus
from focuscam.select import coarser_bins
from focuscam.stacks import save_stack
from focuscam.synth import SynthParams, render_planes
from focuscam.twin import make_twin


@pytest.fixture(scope="module")
def dim_stack(tmp_path_factory):
    params = SynthParams(
        planes=41, photons=150.0, background=0.7, kind="target", color=False, width=192, height=144, seed=0
    )
    frames, z, focus = render_planes(params)
    truth = {"z": float(focus), "tolerance": 1.0, "basis": "synthetic"}
    path = tmp_path_factory.mktemp("dim") / "dim"
    save_stack(path, frames, z, z_unit="um", kind="z-sweep", name="dim", truth=truth)
    return path, float(focus)


def _run(path, start, **options):
    src, drive = make_twin(path, start_um=start)
    events = []
    af = Autofocus(
        src, drive, resolution_um=src.spacing_um, on_event=lambda k, d: events.append((k, d)), **options
    )
    return af, af.run(), events


def test_the_stack_needs_coarser_binning(dim_stack):
    path, _ = dim_stack
    assert select_plane(path, "lapv", bin=1).state == "failed"
    assert select_plane(path, "lapv").bin > 1  # select's own retry


@pytest.mark.parametrize("start", [-20.0, -3.0, 14.0])
def test_auto_bin_retry_focuses_where_bin_1_fails(dim_stack, start):
    path, focus = dim_stack
    _, fixed, _ = _run(path, start, bin=1)
    assert fixed.state == "failed"
    af, r, events = _run(path, start)
    assert r.state == "focused", r.reason
    assert abs(r.z - focus) <= 1.0
    assert r.bin in (2, 4) and f"bin {r.bin}" in r.reason
    assert af.bin == r.bin  # the lock goes on at the factor that worked
    assert any(k == "state" and d.get("state") == "retrying" for k, d in events)
    # no frame is taken twice: the retry scores the kept frames again
    assert r.frames == len(r.samples)


def test_every_run_starts_at_auto_again(dim_stack):
    path, _ = dim_stack
    src, drive = make_twin(path, start_um=0.0)
    af = Autofocus(src, drive, resolution_um=src.spacing_um)
    assert af.run().bin in (2, 4)
    af.run()
    assert af._kept is None  # nothing kept between runs


def test_kept_frames_stop_at_the_cap_and_say_so():
    kept = KeptFrames(cap_bytes=3 * 100)
    for i in range(3):
        kept.add(float(i), np.zeros((10, 10), np.uint8))
    assert kept.complete and len(kept.frames) == 3
    kept.add(3.0, np.zeros((10, 10), np.uint8))
    assert not kept.complete and kept.frames == [] and kept.bytes == 0


def test_kept_frames_are_copies():
    kept = KeptFrames()
    a = np.zeros((4, 4), np.uint8)
    kept.add(0.0, a)
    a[:] = 9
    assert kept.scores(lambda p: float(p.sum())) == [(0.0, 0.0)]


def test_coarser_bins_follow_selects_rule():
    frame = np.zeros((144, 192), np.uint16)
    assert coarser_bins(*_auto_and_side(frame, None)) == [2, 4]  # 144 // 8 = 18 < 24
    assert coarser_bins(*_auto_and_side(frame, (0, 0, 40, 40))) == []  # 40 // 2 = 20 < 24
    assert coarser_bins(*_auto_and_side(np.zeros((48, 48), np.uint8), None)) == [2]
