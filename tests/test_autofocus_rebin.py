"""``bin="auto"`` and ``measure="auto"`` in closed loop: a noise-drowned first search is scored
again at coarser bins and with the other automatic measures.

Dim synthetic stacks (few photons on a strong background, small 16-bit frames) whose curve
at the automatic factor shows no significant peak while ``select`` finds it at bin 2 or 4, or
with another measure.
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


def _dim(tmp_path_factory, kind: str):
    """A dim 16-bit stack (150 photons on a strong background) of ``kind``, with its focus (um)."""
    params = SynthParams(
        planes=41, photons=150.0, background=0.7, kind=kind, color=False, width=192, height=144, seed=0
    )
    frames, z, focus = render_planes(params)
    truth = {"z": float(focus), "tolerance": 1.0, "basis": "synthetic"}
    path = tmp_path_factory.mktemp(kind) / f"dim-{kind}"
    save_stack(path, frames, z, z_unit="um", kind="z-sweep", name=f"dim-{kind}", truth=truth)
    return path, float(focus)


@pytest.fixture(scope="module")
def dim_stack(tmp_path_factory):
    return _dim(tmp_path_factory, "target")


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
    _, fixed, _ = _run(path, start, bin=1, measure="lapv")
    assert fixed.state == "failed"
    af, r, events = _run(path, start, measure="lapv")
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
    af = Autofocus(src, drive, resolution_um=src.spacing_um, measure="lapv")
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


# ---------------------------------------------------------------- measure="auto"
@pytest.fixture(scope="module")
def dim_cells(tmp_path_factory):
    """Dim cells: lapv is flat within noise at every bin on a full sweep, glvn and teng are not."""
    return _dim(tmp_path_factory, "cells")


def test_lapv_alone_cannot_focus_the_dim_cells(dim_cells):
    path, _ = dim_cells
    assert select_plane(path, "lapv").state == "failed"
    assert select_plane(path, "glvn").state == "focused"


@pytest.mark.parametrize("start", [-20.0, -3.0, 14.0])
def test_auto_measure_goes_on_with_the_measure_that_shows_the_peak(dim_cells, start):
    path, focus = dim_cells
    _, named, _ = _run(path, start, measure="lapv")
    assert named.state == "failed" and named.measure == "lapv"
    af, r, events = _run(path, start)
    assert r.state == "focused", r.reason
    assert abs(r.z - focus) <= 1.0
    assert r.measure in ("teng", "glvn") and r.measure in r.reason
    assert af.measure_name == r.measure  # the lock goes on with the measure that worked
    assert any(k == "state" and d.get("state") == "retrying" for k, d in events)
    assert r.frames == len(r.samples)  # the kept frames were scored again, none taken twice


def test_every_run_starts_with_the_default_measure_again(dim_cells):
    path, _ = dim_cells
    src, drive = make_twin(path, start_um=0.0)
    seen = []
    af = Autofocus(src, drive, resolution_um=src.spacing_um,
                   on_event=lambda k, d: seen.append(af.measure_name) if k == "sample" else None)  # fmt: skip
    assert af.run().measure != "lapv"
    seen.clear()
    af.run()
    assert seen[0] == "lapv"


def test_a_measure_chosen_later_is_used_alone(dim_cells):
    """The window's or the page's measure choice sets ``measure_name``: no fallback then."""
    path, _ = dim_cells
    src, drive = make_twin(path, start_um=0.0)
    af = Autofocus(src, drive, resolution_um=src.spacing_um)
    af.measure_name = "lapv"
    r = af.run()
    assert r.measure == "lapv" and r.state == "failed"


def test_fallbacks_are_bounded_on_noise(tmp_path):
    from focuscam._rebin import MAX_FALLBACKS

    rng = np.random.default_rng(3)
    frames = [rng.poisson(300.0, (144, 192)).astype(np.uint16) for _ in range(33)]
    path = save_stack(tmp_path / "n", frames, z=np.linspace(0.0, 64.0, 33), z_unit="um", kind="z-sweep")
    af, r, events = _run(path, 10.0)
    assert r.state == "failed"
    retries = [d for k, d in events if k == "state" and d.get("state") == "retrying"]
    assert 1 <= len(retries) <= MAX_FALLBACKS
    assert af.measure_name == "lapv" and af.bin == "auto"  # back to the defaults
    assert "no significant peak either" in r.reason  # the failure names what else was tried
    assert len(r.reason.split("then with ")[1].split(",")) == len(retries)


# ---------------------------------------------------------------- false alarms with the fallbacks
def _noise_autofocus(seed: int, tmp_path) -> bool:
    """The whole controller (default strategy, measure and bin, with their fallbacks) on a stack
    of independent 8-bit noise planes (33 over 64 um), from a random start; True when focused."""
    rng = np.random.default_rng([seed, 5])
    frames = [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(33)]
    path = save_stack(
        tmp_path / f"n{seed}", frames, z=np.linspace(0.0, 64.0, 33), z_unit="um", kind="z-sweep"
    )
    src, drive = make_twin(path, start_um=float(rng.uniform(0.0, 64.0)))
    return Autofocus(src, drive, resolution_um=src.spacing_um).run().state != "failed"


#: Most false "focused" per closed-loop run on noise with the fallbacks, as measured (README,
#: "False alarms in closed loop": 20 of 1,000 runs; 15 of 1,000 with the bin retry alone).
_CLOSED_LOOP_BOUND = 0.025


def test_fallbacks_keep_noise_failing_fixed_seeds(tmp_path):
    runs = 100
    false = sum(_noise_autofocus(seed, tmp_path) for seed in range(runs))
    assert false / runs <= 0.04, false  # 3 of these 100 seeds, as measured


@pytest.mark.large
def test_fallbacks_keep_noise_failing_1000(tmp_path):
    runs = 1000
    false = sum(_noise_autofocus(seed, tmp_path) for seed in range(runs))
    assert false / runs <= _CLOSED_LOOP_BOUND, false


# ---------------------------------------------------------------- topping up when no measure follows
@pytest.fixture(scope="module")
def coarse_brightfield(tmp_path_factory):
    """Every third plane of ``maars_bf_yeast`` (11 planes 0.9 um apart): the first search's
    candidates run out at 7 samples between the two maxima (22 noise sigmas needed), while the
    whole stack's 11 planes show the dip (``select`` focuses)."""
    from focuscam.stacks import load_stack
    from tests.conftest import shared_stack

    st = load_stack(shared_stack("maars_bf_yeast"))
    order = np.argsort(np.asarray(st.z, dtype=float), kind="stable")[1::3]
    truth = dict(st.truth)
    path = save_stack(
        tmp_path_factory.mktemp("bf") / "maars-every3",
        [st.image(int(i)) for i in order],
        [float(st.z[int(i)]) for i in order],
        z_unit=st.z_unit, kind="z-sweep", name="maars-every3", truth=truth,
        extra={"modality": "brightfield"},
    )  # fmt: skip
    return path, float(truth["z"]), float(truth["tolerance"])


@pytest.mark.shared
@pytest.mark.parametrize("end", [0, -1])
def test_a_search_no_other_measure_follows_is_topped_up_with_unshown_planes(coarse_brightfield, end):
    # in brightfield auto means glvn alone: before the coarser-bin retry (10 sigmas) the first
    # search takes the planes it has not shown yet at its own bin (it failed at 7 samples before)
    path, focus, tol = coarse_brightfield
    src, _ = make_twin(path)
    planes = src.distinct_planes_um
    _, r, _ = _run(path, float(planes[end]), mode="brightfield")
    assert r.state == "focused", r.reason
    assert abs(r.z - focus) <= tol
    assert r.measure == "glvn" and "bin 2" not in r.reason  # no retry was needed
