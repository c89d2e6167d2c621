"""The recording drive of :mod:`focuscam.testing`: a simulated drive that logs every command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..drives.sim import SimulatedDrive

__all__ = ["Command", "RecordingDrive", "recording_drive"]


@dataclass(frozen=True)
class Command:
    """One command the drive's controller received.

    Attributes
    ----------
    t : float
        Clock time in s when it was sent.
    kind : str
        ``"move"`` (an absolute target, backlash overshoots included) or ``"stop"``.
    target_um : float or None
        The absolute target in um of a move; None for a stop.
    from_um : float
        Where the mechanism was when the command was sent, in um.
    """

    t: float
    kind: str
    target_um: float | None
    from_um: float


class RecordingDrive(SimulatedDrive):
    """A :class:`~focuscam.drives.sim.SimulatedDrive` that records every command it is sent.

    What it records is what a real board would have received: the base class has already
    checked the limits, added the backlash overshoot and quantised the target to the step grid.
    """

    def __init__(self, **settings: Any) -> None:
        #: Every command, in order (see :class:`Command`).
        self.log: list[Command] = []
        super().__init__(**settings)

    def _move_to(self, z_um: float) -> None:
        self.log.append(Command(self._now(), "move", float(z_um), float(self.mechanical_position)))
        super()._move_to(z_um)

    def _stop(self) -> None:
        self.log.append(Command(self._now(), "stop", None, float(self.mechanical_position)))
        super()._stop()

    # ------------------------------------------------------------------ what tests ask
    @property
    def targets_um(self) -> list[float]:
        """The absolute move targets in um, in order."""
        return [c.target_um for c in self.log if c.kind == "move"]

    @property
    def moves(self) -> int:
        """How many move commands were sent (a backlash overshoot is one of them)."""
        return len(self.targets_um)

    @property
    def final_approach(self) -> str | None:
        """``"up"`` or ``"down"``: the direction of the last move that went anywhere; else None."""
        for c in reversed(self.log):
            if c.kind == "move" and c.target_um != c.from_um:
                return "up" if c.target_um > c.from_um else "down"
        return None

    def assert_within_limits(self) -> None:
        """Raise AssertionError naming every move target outside the soft limits."""
        lim = self.limits
        bad = [z for z in self.targets_um if not lim.lo <= z <= lim.hi]
        if bad:
            shown = ", ".join(f"{z:g}" for z in bad[:5])
            raise AssertionError(
                f"{len(bad)} move command(s) past the soft limits [{lim.lo:g}, {lim.hi:g}] um: {shown} um"
            )

    def assert_final_approach(self, direction: str) -> None:
        """Raise AssertionError unless the last real move went ``direction`` (``"up"``/``"down"``)."""
        if direction not in ("up", "down"):
            raise ValueError(f"direction {direction!r} is not 'up' or 'down'")
        got = self.final_approach
        if got != direction:
            last = [f"{z:g}" for z in self.targets_um[-3:]]
            raise AssertionError(
                f"the final approach went {got or 'nowhere'}, expected {direction} "
                f"(last targets: {', '.join(last) or 'none'} um)"
            )


def recording_drive(
    limits: Any = (-1000.0, 1000.0),
    *,
    start_um: float = 0.0,
    resolution_um: float = 0.0,
    backlash_um: float = 0.0,
    speed_um_s: float = 1000.0,
    clock: Any = "virtual",
    **settings: Any,
) -> RecordingDrive:
    """A simulated drive that records every command with its time (virtual clock by default).

    Parameters
    ----------
    limits : (float, float) or str
        Soft limits in um.
    start_um : float
        Initial position in um.
    resolution_um : float
        Step grid in um (0 = continuous); targets are quantised inside the limits.
    backlash_um : float
        Mechanical backlash in um, and its compensation (so approaches come from below).
    speed_um_s : float
        Cruise speed in um/s.
    clock : "virtual", "wall" or a clock
        Time base (virtual: moves take simulated time, tests run at full speed).
    **settings
        More :class:`~focuscam.drives.sim.SimulatedDrive` settings (``settle_s``, ``approach``...).
    """
    return RecordingDrive(
        limits=limits,
        start_um=start_um,
        resolution_um=resolution_um,
        backlash_um=backlash_um,
        mechanical_backlash_um=backlash_um,
        speed_um_s=speed_um_s,
        clock=clock,
        **settings,
    )
