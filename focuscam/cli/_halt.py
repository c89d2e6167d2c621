"""The one report after Ctrl-C (or a stop) for every command that moves a drive."""

from __future__ import annotations

from typing import Any

from ..errors import Aborted

__all__ = ["interrupted"]


def interrupted(drive: Any) -> Aborted:
    """Stop ``drive``, wait until it is at rest, and return the Aborted that reports where.

    The position is the one read back from the device once the motor has stopped (a GRBL jog
    cancel decelerates: the position read at once is short of where it comes to rest).
    """
    z = drive.halt()
    where = "an unknown position (resync or home it before moving)" if z is None else f"{z:.3f} um"
    note = ""
    if not getattr(drive, "can_stop_mid_move", True):
        note = " (this firmware cannot stop mid-move: the move ran to its end)"
    return Aborted(f"interrupted; the drive stopped at {where}{note}")
