"""Property: whatever sequence of moves, stops and faults a caller produces, no command that
would leave the soft limits is ever written to the port (GRBL emulator on a pty) or to the
simulated controller."""

from __future__ import annotations

import re
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from focuscam.drives import open_drive
from focuscam.errors import Aborted, DeviceError, InputError

from .grbl_emulator import GrblEmulator

LIMITS = (-800.0, 600.0)
Z = st.floats(-1500, 1500, allow_nan=False)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("to"), Z),
        st.tuples(st.just("by"), Z),
        st.tuples(st.just("stop"), Z),
        st.tuples(st.just("timeout"), Z),
        st.tuples(st.just("garbage"), Z),
        st.tuples(st.just("bad"), st.sampled_from([float("nan"), float("inf"), "x"])),
    ),
    min_size=1,
    max_size=8,
)
BACKLASH = st.sampled_from([0.0, 15.0, 120.0])


def _inside(z_um: float) -> bool:
    return LIMITS[0] - 1e-6 <= z_um <= LIMITS[1] + 1e-6


def _run(drive, ops, *, silence, garbage) -> None:
    for kind, value in ops:
        try:
            if kind == "to":
                drive.move_to(value)
            elif kind == "by":
                drive.move_by(value)
            elif kind == "bad":
                drive.move_to(value)
            elif kind == "stop":
                threading.Timer(0.01, drive.stop).start()
                drive.move_to(value)
            elif kind == "timeout":
                silence(True)
                try:
                    drive.move_to(value)
                finally:
                    silence(False)
            elif kind == "garbage":
                garbage()
                drive.move_to(value)
        except (InputError, Aborted, DeviceError):
            pass  # refusals and injected faults are expected; the property is about the port
        if not drive.position_known:
            time.sleep(0.05)
            try:
                drive.resync()
            except DeviceError:
                pass  # still unknown: the following moves are refused with PositionUnknownError


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, backlash=BACKLASH)
def test_grbl_never_receives_an_out_of_limit_command(ops, backlash):
    emu = GrblEmulator(lose_bytes=0)
    try:
        drive = open_drive(
            f"grbl:{emu.port}", limits=LIMITS, backlash_um=backlash, speed_um_s=20000.0, timeout_s=0.2
        )

        def silence(on: bool) -> None:
            emu.silent = on

        with drive:
            _run(drive, ops, silence=silence, garbage=lambda: emu.garbage(b"\xfe\xff junk\r\n"))
        moves = [line for line in emu.received if re.match(r"^(\$J=|G[01]\b|G9[01]|G53)", line)]
        for line in moves:
            m = re.search(r"Z(-?[0-9.]+)", line)
            assert m, f"motion command without Z: {line!r}"
            if "G91" not in line:  # absolute: the wire value is the target
                assert _inside(float(m.group(1)) * 1000.0), f"out-of-limit command reached the port: {line!r}"
        # a relative jog (a move_by with no target of this open's own) adds to the target GRBL's
        # parser kept: where that put the target is checked instead, as every target is
        assert all(_inside(z) for z in emu.relative_targets_um), emu.relative_targets_um
        assert all(_inside(z) for z in emu.targets_um)
    finally:
        emu.close()


@settings(max_examples=30, deadline=None)
@given(ops=OPS, backlash=BACKLASH)
def test_sim_never_receives_an_out_of_limit_command(ops, backlash):
    drive = open_drive("sim", limits=LIMITS, backlash_um=backlash, mechanical_backlash_um=10.0)

    def silence(on: bool) -> None:
        if on:
            drive.inject_fault("timeout")

    _run(drive, ops, silence=silence, garbage=lambda: drive.inject_fault("disconnect"))
    assert all(_inside(z) for z in drive.commands), drive.commands
