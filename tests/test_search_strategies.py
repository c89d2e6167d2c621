"""Search strategies on synthetic focus curves: clean, noisy, plateaus, two peaks, edge peaks, flat.

Oracles: the true peak position of the synthetic curve, and the limits the strategy was given.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.errors import InputError
from focuscam.search import STRATEGIES, make_strategy
from focuscam.search.model import Model

NAMES = ("sweep", "coarse-fine", "golden", "hill-climb", "continuous")


def run(strategy, curve, *, stream_frames=60):
    """Drive a strategy to the end with a pure function ``curve(z_um) -> score``; return proposals."""
    proposals = []
    while (z := strategy.propose()) is not None:
        proposals.append(z)
        if strategy.streaming:
            z0 = strategy.samples[-1][0]
            for zz in np.linspace(z0, z, stream_frames):
                strategy.observe(zz, curve(zz))
            strategy.end_stream()
        else:
            strategy.observe(z, curve(z))
        assert len(proposals) < 1000, "a strategy must end"
    return proposals


def lorentz(centre, width=8.0, floor=0.1):
    return lambda z: floor + 1.0 / (1.0 + ((z - centre) / width) ** 2)


def test_registry_has_every_strategy():
    assert set(NAMES) <= set(STRATEGIES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("centre", [23.0, 37.0, 61.5, 80.0])
@pytest.mark.parametrize("start", [0.0, 50.0, 100.0])
def test_clean_single_peak_is_found(name, centre, start):
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=start)
    run(s, lorentz(centre))
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - centre) <= 1.0
    assert 0.0 < r.confidence <= 1.0
    assert r.samples and all(0.0 <= z <= 100.0 for z, _ in r.samples)


@pytest.mark.parametrize("name", ["sweep", "coarse-fine", "continuous"])
@pytest.mark.parametrize("seed", range(5))
def test_noisy_peak_is_found(name, seed):
    rng = np.random.default_rng(seed)
    base = lorentz(42.0)

    def curve(z):
        return base(z) + 0.01 * rng.standard_normal()

    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=90.0)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 42.0) <= 3.0


@pytest.mark.parametrize("name", NAMES)
def test_flat_curve_fails(name):
    rng = np.random.default_rng(3)
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=30.0)
    run(s, lambda z: 1.0 + 0.01 * rng.standard_normal())
    r = s.result()
    assert r.state == "failed"
    assert r.reason


@pytest.mark.parametrize("name", NAMES)
def test_exactly_flat_curve_fails(name):
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0)
    run(s, lambda z: 5.0)
    assert s.result().state == "failed"


def two_peaks(z):
    return 0.05 + 1.0 / (1 + ((z - 20) / 5) ** 2) + 0.6 / (1 + ((z - 75) / 5) ** 2)


@pytest.mark.parametrize("name", ["sweep", "continuous"])
def test_two_peaks_full_sweeps_find_the_higher(name):
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=100.0)
    run(s, two_peaks)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 20.0) <= 1.5


@pytest.mark.parametrize(("start", "peaks"), [(0.0, [20.0]), (100.0, [20.0, 75.0])])
def test_two_peaks_coarse_fine_stops_at_the_first_clear_peak(start, peaks):
    # the contrast-drop rule stops the coarse sweep after the first peak it passes: from the low
    # end that is the higher one; from the high end it may be the lower one (a documented limit)
    s = make_strategy("coarse-fine", lo=0.0, hi=100.0, resolution=1.0, start=start)
    run(s, two_peaks)
    r = s.result()
    assert r.state == "focused", r.reason
    assert min(abs(r.z - p) for p in peaks) <= 1.5


@pytest.mark.parametrize("name", ["sweep", "coarse-fine", "continuous"])
def test_plateau_top_lands_on_the_plateau(name):
    # a flat top 40..50 um: any point of the plateau is in focus
    def curve(z):
        return 1.0 if 40 <= z <= 50 else 1.0 / (1 + (min(abs(z - 40), abs(z - 50)) / 6) ** 2)

    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=0.0)
    run(s, curve)
    r = s.result()
    assert 39.0 <= r.z <= 51.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("side", ["low", "high"])
def test_peak_at_a_limit_fails(name, side):
    centre = 0.0 if side == "low" else 100.0
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=50.0)
    run(s, lorentz(centre))
    r = s.result()
    assert r.state == "failed"
    assert "limit" in r.reason or "edge" in r.reason


@pytest.mark.parametrize("name", ["sweep", "coarse-fine", "golden", "continuous"])
def test_peak_outside_window_is_found_by_recentring(name):
    # window 40..60 inside limits 0..100; the peak at 75 um sits beyond its high edge
    s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, start=50.0, window=(40.0, 60.0))
    run(s, lorentz(75.0, width=5.0))
    r = s.result()
    assert r.passes >= 2
    assert r.state == "focused", r.reason
    assert abs(r.z - 75.0) <= 1.5


@pytest.mark.parametrize("name", ["sweep", "coarse-fine", "golden"])
def test_recentring_is_bounded(name):
    # a curve that rises forever to the high side: the window moves at most max_recentre times
    s = make_strategy(name, lo=0.0, hi=1000.0, resolution=1.0, start=10.0, window=(0.0, 20.0), max_recentre=2)
    run(s, lambda z: z)
    r = s.result()
    assert r.passes == 3
    assert r.state == "failed"
    assert max(z for z, _ in r.samples) <= 20.0 + 3 * 10.0 + 1e-9


def test_hill_climb_tracks_from_the_current_position():
    s = make_strategy("hill-climb", lo=30.0, hi=70.0, resolution=0.5, start=44.0, step=4.0)
    proposals = run(s, lorentz(52.0))
    r = s.result()
    assert proposals[0] == 44.0
    assert abs(r.z - 52.0) <= 0.5
    assert r.state == "focused", r.reason


def test_coarse_fine_scores_far_fewer_frames_than_a_full_sweep():
    sweep = make_strategy("sweep", lo=0.0, hi=100.0, resolution=1.0)
    run(sweep, lorentz(33.0))
    cf = make_strategy("coarse-fine", lo=0.0, hi=100.0, resolution=1.0, start=0.0)
    run(cf, lorentz(33.0))
    assert len(cf.result().samples) <= 0.4 * len(sweep.result().samples)


def test_coarse_fine_stops_early_after_the_peak():
    cf = make_strategy("coarse-fine", lo=0.0, hi=100.0, resolution=1.0, start=0.0, coarse_points=11)
    run(cf, lorentz(20.0, width=4.0))
    coarse = [z for z, _ in cf.result().samples if abs(z / 10 - round(z / 10)) < 1e-9]
    assert max(coarse) <= 50.0  # the sweep did not run to 100


@pytest.mark.parametrize("start", [0.0, 100.0])
@pytest.mark.parametrize("seed", range(12))
def test_coarse_fine_sweeps_on_over_a_noisy_flat_tail_to_a_sharp_peak(start, seed):
    # a peak a quarter of the coarse step wide, on the far side of the window: the tail's scores
    # differ by a few percent of noise, which is no contrast drop (before MIN_CONTRAST the sweep
    # stopped after 3 tail samples whenever the first was the highest, and failed "at the limit")
    rng = np.random.default_rng(seed)
    noise = {k: 1.0 + 0.03 * rng.standard_normal() for k in range(201)}  # per 0.5 um plane
    peak = 80.0 if start == 0.0 else 20.0

    def curve(z):
        return noise[round(2.0 * z)] + 20.0 * math.exp(-0.5 * ((z - peak) / 3.0) ** 2)

    s = make_strategy("coarse-fine", lo=0.0, hi=100.0, resolution=0.5, start=start)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - peak) <= 1.5


def test_continuous_proposes_one_streaming_move():
    s = make_strategy("continuous", lo=0.0, hi=100.0, resolution=1.0, start=80.0)
    assert s.propose() == 100.0 and not s.streaming
    s.observe(100.0, 0.2)
    assert s.propose() == 0.0 and s.streaming
    for z in np.linspace(100.0, 0.0, 30):
        s.observe(z, lorentz(50.0)(z))
    s.end_stream()
    assert s.propose() is None
    assert s.result().state == "focused"


def test_brightfield_mode_finds_the_minimum_between_two_maxima():
    def curve(z):  # contrast maxima at 40 and 60 um, the focal plane a minimum at 50 um
        return 0.2 + 1 / (1 + ((z - 40) / 4) ** 2) + 1 / (1 + ((z - 60) / 4) ** 2)

    for name in ("sweep", "coarse-fine"):
        s = make_strategy(name, lo=0.0, hi=100.0, resolution=1.0, mode="brightfield", start=0.0)
        run(s, curve)
        r = s.result()
        assert r.state == "focused", (name, r.reason)
        assert abs(r.z - 50.0) <= 1.5, name


def test_propose_repeats_until_observed_and_result_needs_done():
    s = make_strategy("sweep", lo=0.0, hi=10.0, points=3)
    assert s.propose() == s.propose()
    with pytest.raises(InputError, match="not finished"):
        s.result()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lo": 5.0, "hi": 5.0}, "lo < hi"),
        ({"lo": 0.0, "hi": math.nan}, "finite"),
        ({"lo": 0.0, "hi": 10.0, "start": 11.0}, "outside the limits"),
        ({"lo": 0.0, "hi": 10.0, "mode": "min"}, "mode"),
        ({"lo": 0.0, "hi": 10.0, "resolution": 0.0}, "resolution"),
        ({"lo": 0.0, "hi": 10.0, "window": (-1.0, 5.0)}, "window"),
        ({"lo": 0.0, "hi": 10.0, "no_such_option": 1}, "option"),
    ],
)
def test_bad_parameters_are_input_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_strategy("sweep", **kwargs)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(InputError, match="coarse-fine"):
        make_strategy("nope", lo=0.0, hi=1.0)


def test_observe_rejects_nan_score():
    s = make_strategy("sweep", lo=0.0, hi=10.0, points=3)
    z = s.propose()
    with pytest.raises(InputError, match="score"):
        s.observe(z, float("nan"))


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    lo=st.floats(-1e4, 1e4),
    width=st.floats(1.0, 1e4),
    start_frac=st.floats(0.0, 1.0),
    win=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    peak_frac=st.floats(-0.5, 1.5),
    peak_width=st.floats(0.01, 2.0),
    noise=st.floats(0.0, 0.3),
    seed=st.integers(0, 2**16),
)
def test_property_never_proposes_outside_the_limits(
    name, lo, width, start_frac, win, peak_frac, peak_width, noise, seed
):
    hi = lo + width
    a, b = sorted(win)
    if b - a < 0.05:
        a, b = 0.0, 1.0
    rng = np.random.default_rng(seed)
    centre = lo + peak_frac * width

    def curve(z):
        return 1.0 / (1.0 + ((z - centre) / (peak_width * width)) ** 2) + noise * rng.standard_normal()

    s = make_strategy(
        name,
        lo=lo,
        hi=hi,
        resolution=width / 100,
        start=lo + start_frac * width,
        window=(lo + a * width, lo + b * width),
    )
    proposals = run(s, curve, stream_frames=20)
    assert all(lo <= z <= hi for z in proposals)
    r = s.result()
    assert r.state in {"focused", "failed"}
    assert 0.0 <= r.confidence <= 1.0
    assert r.z is None or lo <= r.z <= hi


def test_model_never_spins_when_rounding_puts_a_candidate_on_a_sample():
    """Regression (CI hang): a plateau replayed from 9 planes 0.37 um apart made the model's
    refinement pick a half-gap candidate that ``_score_at`` already knew, so ``propose`` looped
    forever without yielding. The search must end, and each ``propose`` must return."""
    planes = {
        0: 7450.07,
        0.74: 7448.06,
        -0.74: 7465.12,
        -1.48: 1942.26,
        -0.37: 7441.73,
        -1.11: 3473.53,
        0.37: 7458.41,
        1.48: 3514.11,
        1.11: 7000.0,
    }
    zs = np.array(sorted(planes))

    def curve(z):  # a replay: the nearest recorded plane
        return planes[float(zs[int(np.argmin(np.abs(zs - z)))])]

    s = make_strategy("model", lo=-1.48, hi=1.48, resolution=0.37, start=0.0)
    done = threading.Event()

    def drive():
        run(s, curve)
        done.set()

    t = threading.Thread(target=drive, daemon=True)
    t.start()
    assert done.wait(timeout=120), "propose() spun without returning"
    assert s.result().state in ("focused", "failed")


def test_a_strategy_stuck_on_known_positions_raises_instead_of_hanging():
    """The safety net under every strategy: asking again and again for scored positions
    (a bug) ends propose() with an error in bounded time, it does not spin forever."""

    class Stuck(Model):
        def _pass(self, wlo, whi):
            yield from self._score(5.0)
            while True:
                yield from self._score(5.0)

    s = Stuck(lo=0.0, hi=10.0, resolution=1.0, start=5.0)
    assert s.propose() == 5.0
    s.observe(5.0, 1.0)
    with pytest.raises(RuntimeError, match="no new position"):
        s.propose()


@pytest.mark.parametrize("start", [-18.0, -1.0, 0.0, 1.0, 18.0])
@pytest.mark.parametrize("centre", [3.0, -3.0])
def test_model_refines_on_the_side_of_its_fitted_peak(start, centre):
    """After the coarse bracket the model halves the gap on the side where the Gaussian through
    the best sample and its neighbours has its peak, never first on the other side."""

    def curve(z):
        return 10.0 + 1000.0 * math.exp(-0.5 * ((z - centre) / 2.0) ** 2)

    s = make_strategy("model", lo=-18.0, hi=18.0, resolution=1.0, start=start)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - centre) < 1.0
    grid = np.linspace(-18.0, 18.0, 5)
    off_grid = [z for z, _ in r.samples if np.min(np.abs(grid - z)) > 1e-9]
    assert off_grid, "the search refined"
    # the best coarse sample is 0 um; every refinement sample lies on the peak's side of it
    assert all(np.sign(z) == np.sign(centre) for z in off_grid), off_grid


def test_model_plans_on_a_stepped_grid_without_rescoring_a_grid_point():
    """On a 4 um step grid a candidate whose grid point is already scored is not new."""

    def curve(z):
        return 1.0 + 100.0 * math.exp(-0.5 * ((z - 23.0) / 1.5) ** 2)

    s = make_strategy("model", lo=0.0, hi=40.0, resolution=1.0, start=5.0, grid_um=4.0)
    run(s, curve)
    r = s.result()
    z = [round(z, 9) for z, _ in r.samples]
    assert len(z) == len(set(z)), z
    assert r.state == "focused", r.reason


@pytest.mark.parametrize("start", [0.0, 20.0, 50.0, 80.0, 100.0])
def test_model_brightfield_bracket_stops_once_two_maxima_bracket_the_dip(start):
    """In brightfield the coarse bracket stops once higher samples lie on both sides of the
    lowest one: the window end beyond the far maximum is never scored (no end-to-end sweep)."""

    def curve(z):  # maxima at 30 and 70 um, the focal plane a minimum at 50 um, far ends dim
        return 0.2 + 1 / (1 + ((z - 30) / 15) ** 2) + 1 / (1 + ((z - 70) / 15) ** 2)

    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, mode="brightfield", start=start)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 50.0) <= 1.5
    far_end = 100.0 if start < 50.0 else 0.0
    assert all(abs(z - far_end) > 1e-9 for z, _ in r.samples), r.samples


@pytest.mark.parametrize("start", [35.0, 45.0, 50.0, 55.0, 65.0])
def test_model_brightfield_travel_stays_below_one_and_a_half_windows(start):
    """From a start between the two maxima the brightfield search climbs to the dip's bracket
    (at most one window of travel: out to one side, across to the other) and refines inside it
    (halving gaps, at most half a window more): it never sweeps the grid end to end first."""

    def curve(z):  # maxima at 30 and 70 um, the focal plane a minimum at 50 um
        return 0.2 + 1 / (1 + ((z - 30) / 15) ** 2) + 1 / (1 + ((z - 70) / 15) ** 2)

    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, mode="brightfield", start=start)
    path = [start, *run(s, curve)]
    assert s.result().state == "focused", s.result().reason
    travel = float(np.sum(np.abs(np.diff(path))))
    assert travel <= 1.5 * 100.0, (travel, path)


def test_model_takes_no_jump_shorter_than_a_resolution_step():
    """A vertex within one resolution step of the best coarse sample is no jump worth a frame:
    the model refines instead and still ends on a frame at its fitted peak (so the controller
    needs no separate verification frame there)."""
    from focuscam.search.base import NO_MOVE

    def curve(z):  # the Gaussian through the coarse bracket 10, 20, 30 has its vertex at 21.6
        return 1000.0 * math.exp(-0.5 * ((z - 21.6) / 6.0) ** 2)

    s = make_strategy("model", lo=0.0, hi=40.0, resolution=2.0, start=20.0)
    proposals = run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 21.6) <= 1.0
    assert proposals[:3] == [20.0, 30.0, 10.0], proposals
    assert abs(proposals[3] - 20.0) >= 2.0, proposals
    assert abs(proposals[-1] - r.z) <= NO_MOVE * 2.0, (proposals, r.z)


@pytest.mark.parametrize("start", [0.0, 30.0, 52.0, 75.0, 100.0])
def test_model_brightfield_finds_a_dip_narrower_than_the_coarse_grid(start):
    """Two contrast maxima 8 um apart around the focal plane (52 um) on a 100 um window: the
    5-point grid (25 um steps) sees one hump. The search halves the hump's top until a sample
    lies below both neighbours, then resolves the two maxima, and ends on the dip."""

    def curve(z):
        hump = math.exp(-0.5 * ((z - 52.0) / 9.0) ** 2)
        dip = 1.0 - 0.9 * math.exp(-0.5 * ((z - 52.0) / 2.0) ** 2)
        return 0.2 + 3.0 * hump * dip

    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, mode="brightfield", start=start)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 52.0) <= 1.0
    assert len(r.samples) <= 40  # bounded: far fewer than a sweep at the resolution (101)


def test_model_brightfield_hump_without_a_dip_fails():
    """A single contrast hump (no dip anywhere: not a brightfield focus curve) is not called
    focused after the hump search, which ends within its bound."""

    def curve(z):
        return 0.2 + 3.0 * math.exp(-0.5 * ((z - 52.0) / 9.0) ** 2)

    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, mode="brightfield", start=0.0)
    run(s, curve)
    r = s.result()
    assert r.state == "failed", r.reason
    assert len(r.samples) <= 101


def _peak_on_a_rising_background(z):
    """A narrow peak at 44 um (sigma 3) on a background rising across 0..100 um: the coarse
    grid's far end (14) scores higher than the grid sample beside the peak (11.6), which is
    higher than both its grid neighbours."""
    return 1.0 + 0.13 * z + 30.0 * math.exp(-0.5 * ((z - 44.0) / 3.0) ** 2)


@pytest.mark.parametrize("start", [0.0, 30.0, 60.0, 80.0, 90.0, 100.0])
def test_model_finds_a_narrow_peak_on_a_rising_background(start):
    """Bleaching or a warming lamp can lift a far end of the window above the grid samples
    beside a narrow peak: the search halves the gaps beside the inside local maximum of the
    grid instead of giving up at the window end."""
    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, start=start)
    run(s, _peak_on_a_rising_background)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 44.0) <= 1.0
    assert len(r.samples) <= 25  # a quarter of a sweep at the resolution


@pytest.mark.parametrize("start", [0.0, 50.0, 100.0])
def test_model_finds_a_narrow_peak_near_a_window_end(start):
    """A focus 3 um inside the window's end, narrower than the coarse grid step (25 um): the
    end sample is the best on the grid, and the gap beside it is halved instead of giving up."""
    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, start=start)
    run(s, lambda z: 1.0 + 30.0 * math.exp(-0.5 * ((z - 97.0) / 3.0) ** 2))
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 97.0) <= 1.0


def test_model_monotone_curve_still_fails_at_the_window_end_after_a_bounded_look():
    """A curve rising across the whole window (the peak beyond its end): beyond the coarse
    grid only the gap beside the end is halved (down to two resolution steps), and the result
    names the end."""
    s = make_strategy("model", lo=0.0, hi=100.0, resolution=1.0, start=0.0)
    run(s, lambda z: 1.0 + 0.13 * z + 1e-4 * z**2)
    r = s.result()
    assert r.state == "failed"
    assert "limit" in r.reason
    zs = sorted(z for z, _ in r.samples)
    assert zs[:4] == [0.0, 25.0, 50.0, 75.0]
    assert zs[4:] == [87.5, 93.75, 96.875, 98.4375, 100.0]


def test_hidden_peak_candidates_halve_the_gaps_beside_the_best_inside_local_maximum():
    from focuscam.search.model import _hidden_peak_candidates

    z = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 100.0])
    # best at the end: the gap beside it first
    assert _hidden_peak_candidates(z, np.array([1.0, 3.0, 2.0, 6.0, 4.0, 9.0]), 1.0) == [90.0]
    assert _hidden_peak_candidates(z[::-1] * -1, np.array([9.0, 4.0, 6.0, 2.0, 3.0, 1.0]), 1.0) == [-90.0]
    # that gap resolved: inside local maxima at 20 (3) and 60 (6), the higher one's gaps
    z = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 99.0, 100.0])
    assert _hidden_peak_candidates(z, np.array([1.0, 3.0, 2.0, 6.0, 4.0, 8.0, 9.0]), 1.0) == [50.0, 70.0]
    # the best inside: nothing to look for
    assert _hidden_peak_candidates(z, np.array([1.0, 3.0, 9.0, 6.0, 4.0, 2.0]), 1.0) == []
    # monotone: nothing either
    assert _hidden_peak_candidates(z, np.arange(6.0), 1.0) == []
    # gaps narrower than two resolution steps are not halved
    assert _hidden_peak_candidates(z, np.array([1.0, 3.0, 2.0, 6.0, 4.0, 8.0, 9.0]), 15.0) == []


# ------------------------------------------------- a replayed stack's planes (planes_um)
def _replayed(planes, curve):
    """``curve`` as a replayed stack shows it: the score of the plane nearest z (ties up)."""
    from focuscam.search._plan import nearest_plane

    return lambda z: curve(float(planes[int(nearest_plane(planes, z))]))


def test_model_with_the_sources_planes_scores_no_plane_twice():
    """Positions nearer an already scored plane than any other show that very frame again on a
    replayed stack: with ``planes_um`` the default never asks for them (every sample a
    distinct frame); without the option it does on some of these curves (5 % flicker per
    plane on a peak 1.5 planes wide, random starts)."""
    from focuscam.search._plan import nearest_plane

    planes = np.arange(-20.0, 21.0)
    repeats = {True: 0, False: 0}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        gain = dict(zip(planes.tolist(), 1.0 + 0.05 * rng.normal(size=planes.size), strict=True))
        peak = float(rng.uniform(-12.0, 12.0))
        curve = _replayed(
            planes, lambda z, g=gain, m=peak: g[z] * (1.0 + 3.0 * math.exp(-0.5 * ((z - m) / 1.5) ** 2))
        )
        start = float(rng.uniform(-20.0, 20.0))
        for with_planes in (True, False):
            strat = make_strategy("model", lo=-20.0, hi=20.0, resolution=1.0, start=start,
                                  planes_um=planes if with_planes else None)  # fmt: skip
            run(strat, curve)
            shown = nearest_plane(planes, np.array([z for z, _ in strat.samples]))
            repeats[with_planes] += shown.size - np.unique(shown).size
    assert repeats[True] == 0, repeats
    assert repeats[False] > 0, "these curves no longer show the repeats the option is there for"


def test_nearest_plane_is_the_plane_the_twin_shows(tmp_path):
    from focuscam.search._plan import nearest_plane
    from focuscam.stacks import save_stack
    from focuscam.twin import make_twin

    z = np.array([0.0, 1.0, 2.5, 3.0, 7.0])
    frames = [np.full((4, 4), k, np.uint8) for k in range(z.size)]
    path = save_stack(tmp_path / "s", frames, z, z_unit="um", kind="z-sweep", name="s")
    twin, _ = make_twin(path)
    for q in np.linspace(-1.0, 8.0, 181):
        assert twin.render(float(q))[1] == int(nearest_plane(twin.planes_um, q)), q
    assert np.array_equal(twin.distinct_planes_um, z)
    blended, _ = make_twin(path, blend=True)
    assert blended.distinct_planes_um is None  # a blend differs at every position
    drifting, _ = make_twin(path, drift=lambda t: 0.1 * t)
    assert drifting.distinct_planes_um is None


def test_planes_um_must_be_positions():
    with pytest.raises(InputError, match="planes_um"):
        make_strategy("model", lo=0.0, hi=10.0, planes_um=[1.0])
    with pytest.raises(InputError, match="planes_um"):
        make_strategy("model", lo=0.0, hi=10.0, planes_um=[1.0, float("nan")])


def test_free_plane_is_the_unshown_plane_farthest_from_the_samples():
    from focuscam.search._plan import free_plane

    planes = np.arange(-18.0, 19.0, 3.0)
    z = np.array([-18.0, -9.0, 0.0, 18.0])
    shown = {-18.0, -9.0, 0.0, 18.0}
    assert free_plane(planes, z, -18.0, 18.0, lambda p: p in shown) in (9.0,)
    assert free_plane(planes, z, -18.0, 0.0, lambda p: p in shown) in (-15.0, -12.0, -6.0, -3.0)
    assert free_plane(planes, z, -18.0, 18.0, lambda p: True) is None


def _run_on_planes(planes, curve, top_up=True):
    from focuscam.search._plan import nearest_plane

    strat = make_strategy(
        "model", lo=-18.0, hi=18.0, resolution=3.0, start=-18.0, planes_um=planes, top_up_planes=top_up
    )
    shown = []
    for _ in range(100):
        p = strat.propose()
        if p is None:
            break
        k = int(nearest_plane(planes, p))
        assert k not in shown, "a plane already shown was asked for again"
        shown.append(k)
        strat.observe(p, float(curve[k]))
    return strat.result(), shown


def test_model_on_known_planes_tops_up_an_insignificant_peak_with_unshown_planes():
    """13 planes 3 um apart, a peak 10 noise sigmas high: the default's candidates run out at 9
    samples, below the rule; with ``top_up_planes`` it then scores planes no sample shows yet
    (never one already shown) and focuses (without, it fails)."""
    planes = np.arange(-18.0, 19.0, 3.0)
    rng = np.random.default_rng(1)
    curve = 100.0 + 10.0 * np.exp(-0.5 * ((planes + 9.0) / 4.0) ** 2) + rng.normal(0.0, 1.0, planes.size)
    without, few = _run_on_planes(planes, curve, top_up=False)
    assert without.state == "failed"
    res, shown = _run_on_planes(planes, curve)
    assert res.state == "focused", res.reason
    assert abs(res.z + 9.0) <= 3.0
    assert len(shown) > len(few)


@pytest.mark.parametrize(("shoulder", "half_width"), [(1.0, 5.0), (0.5, 3.0), (0.5, 5.0)])
def test_model_lands_on_a_wide_flat_top_without_combing_it(shoulder, half_width):
    # a noise-free flat top 10 or 6 um wide with steep shoulders at a fine resolution: every
    # sample on it has the very same score. Before, the model refined around the FIRST of the
    # tied samples (the top's edge) down to the resolution and then said "flat curve" (the
    # median sat on the top); now it lands on the top with its samples there at least a few
    # resolution steps apart
    def curve(z):
        d = max(0.0, abs(z - 45.0) - half_width)
        return 0.1 + math.exp(-0.5 * (d / shoulder) ** 2)

    s = make_strategy("model", lo=0.0, hi=100.0, resolution=0.25, start=0.0)
    run(s, curve)
    r = s.result()
    assert r.state == "focused", r.reason
    assert abs(r.z - 45.0) <= half_width
    top = sorted(z for z, v in r.samples if v >= 1.1 - 1e-12)
    assert min(np.diff(top)) >= 1.5 * 0.25, top


def test_model_bisects_a_flat_top_edge_only_to_its_shoulder_scale():
    # the first 11 samples of a run on a synthetic stack of 201 planes 0.2 um apart (a flat top
    # about 2 um wide, benchmarks/README.md "Densely sampled stacks"): the rule holds with a
    # plateau model whose shoulders have a scale of about 0.65 um; its edges are wanted to about
    # that scale, as a peak's neighbours are wanted to about one curve width. Before, the gap of
    # 1.25 um beside the top was halved on and on, down to two resolution steps (0.4 um)
    from focuscam.search.significance import test_peak

    samples = [(-20.0, 8.61e6), (-10.0, 1.82e8), (0.0, 8.76e6), (-5.0, 1.31e7), (-15.0, 1.04e7),
               (-7.5, 4.76e7), (-12.5, 2.02e7), (-8.75, 1.83e8), (-9.375, 1.82e8), (-8.125, 1.82e8),
               (-11.25, 4.36e7)]  # fmt: skip
    s = make_strategy("model", lo=-20.0, hi=20.0, resolution=0.2, start=-20.0)
    for z, v in samples:
        s.observe(z, v)
    z, v = s._curve()
    sig = test_peak(z, v, min_width=0.05)
    assert sig.significant and sig.model.shape.startswith("plateau-")
    gaps = np.diff(z)
    assert gaps.max() > 2 * 0.2  # the old rule would still bisect
    assert s._plateau_edge(z, v) is None, sig.model
