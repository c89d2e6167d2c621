"""Issue 12 item 6, as a property: relative moves made by separate opens of a GRBL board (each
``focuscam move --by`` is a new process) add up on the board's own unrounded target.

Over random chains of ``move_by`` with a reopen between moves, limits off the 4 um grid:

1. no target GRBL's parser takes (the unrounded one) and no motion end (its ``lround`` step)
   is ever outside the soft limits;
2. while every move of the chain was a relative jog, the position is the grid point nearest
   the start plus the sum of all ``dz`` (within half a step): rounding never accumulates.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from focuscam.drives import open_drive
from focuscam.errors import LimitError

from .grbl_emulator import GrblEmulator

LIMITS = (-101.3, 98.9)  # um, both off the 4 um grid
GRID = 4.0


def _lround_um(z_um: float) -> float:
    k = z_um / GRID
    return math.copysign(math.floor(abs(k) + 0.5), k) * GRID


@pytest.fixture(scope="module")
def board():
    emu = GrblEmulator(lose_bytes=0, steps_per_mm=1000.0 / GRID, time_scale=8.0)
    yield emu
    emu.close()


def _open(emu):
    return open_drive(f"grbl:{emu.port}", limits=LIMITS, speed_um_s=20000.0, timeout_s=2.0, poll_s=0.001)


@settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(
    chain=st.lists(
        st.tuples(st.floats(-60.0, 60.0, allow_nan=False).map(lambda v: round(v, 3)), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_relative_moves_across_opens_add_up_and_stay_inside(board, chain):
    emu = board
    with _open(emu) as drive:
        start = drive.move_to(0.0)  # a fresh chain from the grid point 0 (the parser holds 0)
    emu.relative_targets_um.clear()
    total, all_relative = start, True
    drive = _open(emu)
    try:
        for dz, reopen in chain:
            if reopen:
                drive.close()
                drive = _open(emu)
                assert drive.relative_on_device  # an idle board that answers is not reset
            relative = drive.adds_on_device(dz)
            try:
                z = drive.move_by(dz)
            except LimitError:
                all_relative = False  # refused: nothing sent; the chain's sum no longer holds
                continue
            total += dz
            all_relative = all_relative and relative
            assert LIMITS[0] <= z <= LIMITS[1], (z, chain)
            if all_relative:
                assert abs(z - total) <= GRID / 2 + 1e-6, (z, total, chain)
    finally:
        drive.close()
    for target in emu.relative_targets_um:
        assert LIMITS[0] - 1e-9 <= target <= LIMITS[1] + 1e-9, (target, chain)
        assert LIMITS[0] <= _lround_um(target) <= LIMITS[1]
