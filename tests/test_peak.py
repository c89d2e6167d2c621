"""The peak fit: sub-step accuracy, honest failure, edges, brightfield dips, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.errors import InputError
from focuscam.search.peak import PeakFit, best_index, fit_peak, noise_sigma


def gaussian(z, centre, width, height=1.0, floor=0.1):
    return floor + height * np.exp(-0.5 * ((np.asarray(z) - centre) / width) ** 2)


@given(
    centre=st.floats(-3.0, 3.0),
    width=st.floats(1.0, 6.0),
    step=st.floats(0.2, 2.0),
    floor=st.floats(0.0, 5.0),
)
@settings(max_examples=150, deadline=None)
def test_subsample_accuracy_on_clean_gaussian(centre, width, step, floor):
    z = np.arange(-15.0, 15.0 + 1e-9, step)
    s = gaussian(z, centre, width * max(step, 1.0), floor=floor)
    fit = fit_peak(z, s)
    assert fit.state == "focused"
    argmax_err = abs(z[int(np.argmax(s))] - centre)
    assert abs(fit.z - centre) <= 0.1 * step + 1e-9
    assert abs(fit.z - centre) <= argmax_err + 1e-9
    assert fit.index == int(np.argmax(s))
    assert 0.0 <= fit.confidence <= 1.0


def test_parabola_vertex_exact():
    z = np.linspace(0, 10, 11)
    s = 100 - (z - 6.3) ** 2
    fit = fit_peak(z, s)
    assert fit.state == "focused"
    assert fit.z == pytest.approx(6.3, abs=0.15)
    # a pure parabola (no floor under its log) still lands within the samples around the top
    assert fit.z_sample == 6.0


def test_input_order_does_not_matter_and_index_is_input_order():
    rng = np.random.default_rng(3)
    z = np.arange(40.0)
    s = gaussian(z, 17.4, 4.0) + rng.normal(0, 0.002, z.size)
    perm = rng.permutation(z.size)
    a = fit_peak(z, s)
    b = fit_peak(z[perm], s[perm])
    assert a.z == pytest.approx(b.z, abs=1e-12)
    assert z[perm][b.index] == z[a.index] == a.z_sample
    # a descending sweep (as a stack may be recorded) gives the same answer
    c = fit_peak(z[::-1], s[::-1])
    assert c.z == pytest.approx(a.z, abs=1e-12) and c.index == z.size - 1 - a.index


def test_flat_curve_fails():
    fit = fit_peak(np.arange(20.0), np.full(20, 3.5))
    assert fit.state == "failed"
    assert "flat" in fit.reason
    assert fit.confidence == 0.0


def test_pure_noise_fails_nearly_always():
    rng = np.random.default_rng(12345)
    z = np.arange(31.0)
    focused = 0
    for _ in range(300):
        s = 50.0 + rng.normal(0, 1.0, z.size)
        fit = fit_peak(z, s)
        focused += fit.state == "focused"
        assert 0.0 <= fit.confidence <= 1.0
    assert focused <= 3  # <= 1% false "focused" on peak-less curves


def test_noisy_real_peak_is_found():
    rng = np.random.default_rng(7)
    z = np.arange(-20.0, 21.0)
    hits = 0
    for _ in range(50):
        s = gaussian(z, 2.3, 4.0, height=10.0, floor=50.0) + rng.normal(0, 0.5, z.size)
        fit = fit_peak(z, s)
        hits += fit.state == "focused" and abs(fit.z - 2.3) < 1.0
    assert hits >= 48


def test_noise_sigma_estimates_white_noise():
    rng = np.random.default_rng(0)
    s = 10 + rng.normal(0, 2.0, 5000)
    assert noise_sigma(s) == pytest.approx(2.0, rel=0.1)
    # a smooth trend adds (almost) nothing
    assert noise_sigma(np.linspace(0, 100, 200) ** 1.5) < 1e-2


@pytest.mark.parametrize(("direction", "side"), [(1, 1), (-1, -1)])
def test_monotonic_curve_fails_at_edge(direction, side):
    z = np.arange(15.0)
    s = np.exp(direction * z / 3)
    fit = fit_peak(z, s)
    assert fit.state == "failed"
    assert fit.at_edge and fit.edge_side == side
    assert "edge" in fit.reason
    assert fit.z == (14.0 if side > 0 else 0.0)


def test_peak_inside_is_not_at_edge():
    z = np.arange(15.0)
    fit = fit_peak(z, gaussian(z, 7, 2))
    assert not fit.at_edge and fit.edge_side == 0


def test_brightfield_finds_dip_between_maxima():
    z = np.linspace(0, 10, 41)
    s = gaussian(z, 3.0, 1.0) + gaussian(z, 7.2, 1.2, height=1.5, floor=0)
    true_dip = z[np.argmin(np.where((z > 3) & (z < 7.2), s, np.inf))]
    fit = fit_peak(z, s, mode="brightfield")
    assert fit.state == "focused"
    assert fit.mode == "brightfield"
    assert abs(fit.z - true_dip) <= 0.25
    assert 3.0 < fit.z < 7.2
    # the same curve in max mode picks a maximum, not the dip
    assert fit_peak(z, s).z == pytest.approx(7.2, abs=0.3)


def test_brightfield_without_dip_fails():
    z = np.linspace(0, 10, 41)
    fit = fit_peak(z, gaussian(z, 5.0, 1.0), mode="brightfield")
    assert fit.state == "failed"
    assert "flat" in fit.reason or "not significant" in fit.reason


def test_too_few_samples_fail_but_answer():
    fit = fit_peak([1.0, 2.0], [3.0, 5.0])
    assert fit.state == "failed" and fit.z == 2.0 and fit.index == 1
    assert "fewer than 3" in fit.reason
    fit1 = fit_peak([4.0], [1.0])
    assert fit1.state == "failed" and fit1.z == 4.0


def test_few_samples_with_clear_peak_are_not_tested():
    # five samples cannot carry the significance test (tests/test_search_significance.py)
    fit = fit_peak([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0, 3.2, 1.0])
    assert fit.state == "failed" and "not tested" in fit.reason
    assert 1.5 < fit.z < 2.5


def test_to_dict_is_json_ready():
    fit = fit_peak(np.arange(9.0), gaussian(np.arange(9.0), 4.2, 1.5))
    d = fit.to_dict()
    json.dumps(d, allow_nan=False)
    assert {"index", "z", "state", "confidence", "reason", "at_edge"} <= set(d)
    assert isinstance(fit, PeakFit) and fit.focused


@pytest.mark.parametrize(
    ("z", "s", "kwargs", "needle"),
    [
        ([1, 2, 3], [1, 2], {}, "one score per z"),
        ([], [], {}, "empty"),
        ([1, 2, math.nan], [1, 2, 3], {}, "z holds NaN"),
        ([1, 2, 3], [1, math.inf, 3], {}, "scores hold NaN"),
        ([1, 2, 3], [1, 2, 3], {"mode": "min"}, "mode"),
        ([[1, 2]], [[1, 2]], {}, "1-D"),
        ([1, 2, 3], [1, 2, 3], {"min_rel": 2.0}, "min_rel"),
    ],
)
def test_bad_input(z, s, kwargs, needle):
    with pytest.raises(InputError, match=needle):
        fit_peak(z, s, **kwargs)


def test_a_flat_top_holding_most_samples_is_not_a_flat_curve():
    # more than half the samples on a noise-free flat top: the best equals the median, which
    # once made the fit say "flat curve: no sample stands out" before any test; the plateau
    # model.s own rise decides instead
    z = np.arange(0.0, 31.0)
    s = np.where(np.abs(z - 15.0) <= 9.0, 1.0, 0.1 + 0.9 * np.exp(-0.5 * (np.abs(z - 15.0) - 9.0) ** 2))
    assert np.median(s) == s.max()
    fit = fit_peak(z, s, test=True)
    assert fit.state == "focused", fit.reason
    assert abs(fit.z - 15.0) <= 1.0
    assert fit_peak(z, np.full_like(z, 0.5), test=True).reason.startswith("flat curve")


@pytest.mark.parametrize(
    ("scores", "index"),
    [([1, 3, 2], 1), ([1, 3, 3, 3, 1], 2), ([1, 3, 3, 1], 1), ([3, 3, 1], 0), ([1, 3, 3], 2), ([2, 2, 2], 0)],
)
def test_best_index_takes_the_middle_of_a_tied_top_or_the_end_it_reaches(scores, index):
    assert best_index(np.array(scores, dtype=float)) == index
