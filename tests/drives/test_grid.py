"""The step grid of FocusDrive: every target quantised once, to a grid point inside the limits."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.drives.sim import SimulatedDrive
from focuscam.errors import LimitError


def test_target_at_a_limit_off_the_grid_goes_to_the_inner_grid_point():
    # 10 um grid (0.1 steps/um), limit 115 um: the nearest grid point, 120, is past the limit
    drive = SimulatedDrive(limits=(0, 115), resolution_um=10.0, accel_um_s2=math.inf)
    assert drive.move_to(115) == pytest.approx(110)
    assert max(drive.commands) <= 115


def test_no_grid_point_inside_the_limits_is_a_limit_error_and_sends_nothing():
    drive = SimulatedDrive(limits=(1, 9), resolution_um=10.0, start_um=5)
    with pytest.raises(LimitError, match="grid"):
        drive.move_to(5)
    assert drive.commands == []


def test_relative_moves_do_not_accumulate_rounding():
    # GRBL's default 250 steps/mm is a 4 um grid: two moves by -30 um end at -60, not -64
    drive = SimulatedDrive(limits=(-1000, 1000), resolution_um=4.0)
    drive.move_by(-30)
    assert drive.move_by(-30) == pytest.approx(-60)


def test_backlash_overshoot_is_quantised_inside_the_limits_too():
    drive = SimulatedDrive(limits=(-100, 100), resolution_um=4.0, backlash_um=7.0, start_um=40)
    drive.move_to(10)  # downwards: overshoot to 3 -> a grid point, then up to 12 or 8
    assert all(abs(c / 4.0 - round(c / 4.0)) < 1e-9 for c in drive.commands)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    lo=st.floats(-1000, 1000),
    span=st.floats(0.01, 500),
    res=st.floats(0.01, 50),
    frac=st.floats(0, 1),
)
def test_quantised_targets_never_leave_the_limits(lo, span, res, frac):
    hi = lo + span
    drive = SimulatedDrive(limits=(lo, hi), resolution_um=res, start_um=lo)
    z = lo + frac * span
    try:
        q = drive.quantise(z)
    except LimitError:
        assert math.floor(hi / res + 1e-9) < math.ceil(lo / res - 1e-9)
        return
    assert lo <= q <= hi
    assert abs(q - z) <= res * (1 + 1e-9)
    k = q / res
    assert abs(k - round(k)) < 1e-6 or q in (lo, hi)
