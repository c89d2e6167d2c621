"""The controller against a real drive peer: GrblDrive over pyserial on a pseudo-terminal.

The GRBL emulator (tests/drives/grbl_emulator.py) models the motion and a mechanical dead band;
the twin camera shows the recorded plane at the emulator's *mechanical* (optics) position, so
the loop only focuses when moves, move completion, backlash and fresh frames all work over the
serial line.
"""

from __future__ import annotations

import pytest
from drives.grbl_emulator import GrblEmulator
from twin_helpers import defocus_stack

from focuscam.autofocus import Autofocus
from focuscam.drives import open_drive
from focuscam.twin import TwinSource


@pytest.fixture
def peer():
    emu = GrblEmulator(mech_backlash_um=2.0, lose_bytes=0, steps_per_mm=1000.0)
    yield emu
    emu.close()


def test_autofocus_over_a_pty_with_backlash(tmp_path, peer):
    stack = defocus_stack(tmp_path / "s", planes=41, lo=0.0, hi=40.0, focus=23.0)
    drive = open_drive(
        f"grbl:{peer.port}", limits=(-5.0, 40.0), backlash_um=4.0, speed_um_s=1000.0, timeout_s=2.0
    )
    try:
        src = TwinSource(stack, drive, fps=60.0, optics=lambda t: peer.mechanical_um)
        r = Autofocus(src, drive, strategy="coarse-fine", resolution_um=1.0).run()
        assert r.state == "focused", r.reason
        # the optics (mechanical position through the dead band) sit on the sharp plane
        assert abs(peer.mechanical_um - 23.0) <= 1.0
        # every final approach came from below: the last two targets go up
        assert peer.targets_um[-2] < peer.targets_um[-1]
        assert not peer.moving
    finally:
        drive.close()
