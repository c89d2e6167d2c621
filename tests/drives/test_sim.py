"""SimulatedDrive: the trapezoidal motion model against a slow numerical oracle, the virtual
clock, faults, and open_drive's spec handling."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.drives import FocusDrive, VirtualClock, open_drive
from focuscam.drives.sim import Profile, SimulatedDrive
from focuscam.errors import DeviceError, DeviceTimeout, InputError, PositionUnknownError


def _oracle_position(prof: Profile, t: float, n: int = 20000) -> float:
    """Integrate the velocity limited by speed and by accel/decel distance, step by step."""
    d = abs(prof.z1 - prof.z0)
    sign = 1.0 if prof.z1 >= prof.z0 else -1.0
    s, v = 0.0, 0.0
    dt = (t - prof.t0) / n if t > prof.t0 else 0.0
    for _ in range(n):
        remaining = d - s
        v_allowed = min(prof.speed, math.sqrt(max(0.0, 2 * prof.accel * remaining)))
        v = min(v + prof.accel * dt, v_allowed)
        s = min(d, s + v * dt)
    return prof.z0 + sign * s


@settings(max_examples=30, deadline=None)
@given(
    z0=st.floats(-500, 500),
    z1=st.floats(-500, 500),
    speed=st.floats(50, 2000),
    accel=st.floats(500, 50000),
    frac=st.floats(0, 1.2),
)
def test_profile_matches_a_numerical_integration(z0, z1, speed, accel, frac):
    prof = Profile(0.0, z0, z1, speed, accel)
    t = frac * prof.duration
    got = prof.at(t)
    want = _oracle_position(prof, t)
    assert got == pytest.approx(want, abs=max(0.5, 0.01 * abs(z1 - z0)))
    lo, hi = min(z0, z1), max(z0, z1)
    assert lo - 1e-9 <= got <= hi + 1e-9


def test_profile_duration_against_kinematics():
    # long move: accelerate to 1000 in 0.05 s (25 um), cruise 950 um, decelerate 25 um
    prof = Profile(0.0, 0.0, 1000.0, 1000.0, 20000.0)
    assert prof.duration == pytest.approx(0.05 + 0.95 + 0.05)
    # short move: triangular, d = a t^2 / 4 * 2 ... = a (T/2)^2
    short = Profile(0.0, 0.0, 10.0, 1000.0, 20000.0)
    assert short.duration == pytest.approx(2 * math.sqrt(10.0 / 20000.0))
    assert short.at(short.duration / 2) == pytest.approx(5.0)


def test_virtual_clock_runs_at_full_speed_and_advances_by_the_move():
    drive = SimulatedDrive(speed_um_s=100.0, accel_um_s2=math.inf, settle_s=0.5)
    assert drive.clock.virtual
    t0 = time.monotonic()
    drive.move_to(1000.0)  # 10 s of modelled motion
    assert time.monotonic() - t0 < 2.0
    assert drive.clock.now() == pytest.approx(10.0 + 0.5)
    assert drive.position_at(5.0) == pytest.approx(500.0)


def test_shared_clock():
    clock = VirtualClock(start=100.0)
    drive = open_drive("sim", clock=clock, speed_um_s=1000.0, accel_um_s2=math.inf)
    drive.move_to(200.0)
    assert clock.now() == pytest.approx(100.2)
    assert drive.position_at(100.1) == pytest.approx(100.0)
    with pytest.raises(InputError, match="before"):
        drive.position_at(99.0)


def test_timeout_fault_leaves_the_position_unknown():
    drive = SimulatedDrive()
    drive.inject_fault("timeout")
    with pytest.raises(DeviceTimeout):
        drive.move_to(100.0)
    with pytest.raises(PositionUnknownError, match="resync"):
        drive.move_to(0.0)
    z = drive.resync()  # it stalled half-way (checked at the model's time step)
    assert 50.0 <= z < 100.0


def test_disconnect_fault_needs_resync():
    drive = SimulatedDrive()
    drive.inject_fault("disconnect")
    with pytest.raises(DeviceError, match="disconnected"):
        drive.move_to(100.0)
    with pytest.raises(DeviceError):
        _ = drive.position
    drive.resync()
    assert drive.move_to(0.0) == 0.0


def test_approach_down_overshoots_above():
    drive = SimulatedDrive(backlash_um=25.0, approach="down")
    drive.move_to(100.0)
    assert drive.commands[-2:] == [125.0, 100.0]
    assert drive.plan(50.0) == [50.0]  # moving down while engaged downwards: no overshoot


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"limits": (5, 1)}, "MIN <= MAX"),
        ({"limits": "a,b"}, "MIN,MAX"),
        ({"backlash_um": -1}, "negative"),
        ({"speed_um_s": 0}, "positive"),
        ({"approach": "sideways"}, "'up' or 'down'"),
        ({"clock": "sundial"}, "clock"),
        ({"start_um": 1e6}, "outside the limits"),
    ],
)
def test_bad_settings_are_input_errors(kwargs, needle):
    with pytest.raises(InputError, match=needle):
        SimulatedDrive(**kwargs)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [("", "empty"), ("stepper:1", "sim, grbl:PORT"), ("grbl", "lacks its PORT"), ("sim:x", "takes nothing")],
)
def test_bad_specs(spec, needle):
    with pytest.raises(InputError, match=needle):
        open_drive(spec)


def test_unknown_setting_is_named():
    with pytest.raises(InputError, match="steps_per_um"):
        open_drive("sim", steps_per_um=3)


def test_open_drive_returns_a_focus_drive_with_its_spec():
    drive = open_drive("sim")
    assert isinstance(drive, FocusDrive)
    assert drive.spec == "sim"
    assert "sim" in repr(drive)
