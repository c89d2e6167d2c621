"""The state every focus drive keeps (um throughout): soft limits, the step grid, backlash,
the commanded target, known/unknown, and the trajectory. :class:`~focuscam.drives._control.DriveControl`
adds stop, halt, close, home and resync on top, :class:`~focuscam.drives.base.FocusDrive` the
motion templates."""

from __future__ import annotations

import math
import threading
from typing import Any

from ..errors import DeviceError, InputError, LimitError, PositionUnknownError, ProtocolError
from ..types import ZLimits
from ._limits import _finite, as_limits, backlash_overshoot, quantise_inside
from ._trajectory import Trajectory
from .clock import make_clock

__all__ = ["DriveState"]


class DriveState:
    """Configuration and state of a focus drive; parameters as for :class:`FocusDrive`."""

    #: The spec scheme of this drive (``"sim"``, ``"grbl"``, ...); set by subclasses.
    scheme = "drive"

    def __init__(
        self,
        *,
        limits: Any,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.0,
        clock: Any = None,
        clock_default: str = "wall",
        resolution_um: float = 0.0,
    ) -> None:
        self._limits = as_limits(limits)
        self._resolution = 0.0
        self._set_resolution(resolution_um)
        self._backlash = _finite(backlash_um, "backlash_um")
        if self._backlash < 0:
            raise InputError(f"backlash_um {backlash_um!r} is negative: give 0 or a positive number of um")
        if approach not in ("up", "down"):
            raise InputError(
                f"approach {approach!r} is not 'up' or 'down': give the final approach direction"
            )
        self._approach = 1 if approach == "up" else -1
        self._settle = _finite(settle_s, "settle_s")
        if self._settle < 0:
            raise InputError(f"settle_s {settle_s!r} is negative: give 0 or a positive number of seconds")
        self.clock = make_clock(clock, default=clock_default)
        self.spec = self.scheme
        self._stop_event = threading.Event()
        self._move_lock = threading.RLock()
        self._known = True
        self._unknown_reason = ""
        self._closed = False
        self._last_dir = 0  # direction the mechanism was last driven: +1, -1, 0 = unknown
        self._commanded: float | None = None
        # the last requested (unquantised) target: relative moves add to it, so rounding to the
        # step grid never accumulates (issue 12 item 6)
        self._intended: float | None = None
        self._aim_um: float | None = None  # the final step's unquantised target, in _move_to
        self._traj = Trajectory()

    @property
    def limits(self) -> ZLimits:
        """The soft limits in um."""
        return self._limits

    @property
    def resolution_um(self) -> float:
        """The step-grid pitch in um (0.0 = continuous); targets are quantised to it."""
        return self._resolution

    @property
    def commanded_um(self) -> float | None:
        """The grid point (um) the last move was sent to (or the position re-read after an
        open, a stop or a resync); None while it is not known."""
        return self._commanded

    def quantise(self, z_um: float) -> float:
        """The grid point (um) a move to ``z_um`` would be sent to.

        ``z_um`` must lie inside the soft limits; the result is the nearest whole multiple of
        :attr:`resolution_um` that also lies inside them (never past a limit by a rounding
        step). Raises LimitError when ``z_um`` is outside the limits or no grid point is inside.
        """
        z = _finite(z_um, "z_um")
        return self._quantise(z, f"a move to {z:g} um")

    def _quantise(self, z: float, what: str) -> float:
        return quantise_inside(z, self._limits, self._resolution, what, self.spec)

    def _set_resolution(self, resolution_um: float) -> None:
        """Set the step-grid pitch in um (0 = continuous); for drivers that learn it late."""
        res = _finite(resolution_um, "resolution_um")
        if res < 0:
            raise InputError(f"resolution_um {resolution_um!r} is negative: give 0 or the step in um")
        self._resolution = res

    @property
    def backlash_um(self) -> float:
        """The backlash compensation in um."""
        return self._backlash

    @property
    def approach(self) -> str:
        """The direction of every final approach: ``"up"`` or ``"down"``."""
        return "up" if self._approach > 0 else "down"

    @property
    def position_known(self) -> bool:
        """False after a fault (timeout, reset, alarm, disconnect) until resync or home."""
        return self._known

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    @property
    def trajectory(self) -> list[tuple[float, float]]:
        """Recorded ``(t, z_um)`` samples in time order (move starts/ends, mid-move reports)."""
        return self._traj.samples()

    def position_at(self, t: float) -> float:
        """The position in um at clock time ``t`` (s), interpolated linearly in the trajectory.

        After the last sample the drive is at rest at the last recorded position (every move
        records its start and end). Raises InputError for a ``t`` before the first sample.
        """
        return self._traj.position_at(t)

    def _reading(self, z_um: Any, doing: str) -> float:
        """A position the device reported, checked finite (NaN/Inf: ProtocolError, unknown)."""
        try:
            z = float(z_um)
        except (TypeError, ValueError, OverflowError):
            z = math.nan
        if not math.isfinite(z):
            self._mark_unknown(f"the device reported the position {z_um!r} while {doing}")
            raise ProtocolError(
                f"{self.spec} reported the position {z_um!r} um while {doing}, not a finite number: "
                f"its position is unknown; check the device, then resync or home"
            )
        return z

    def plan(self, z_um: float, current_um: float | None = None) -> list[float]:
        """The absolute targets (um) a move to ``z_um`` sends, backlash overshoot included.

        Raises LimitError when any of them is outside the soft limits.
        """
        z = _finite(z_um, "z_um")
        cur = self._commanded if current_um is None else float(current_um)
        return self._plan(cur, z, f"move_to({z:g} um)")

    def _plan(self, current: float | None, z: float, what: str) -> list[float]:
        z = self._quantise(z, what)
        over = backlash_overshoot(current, z, self._backlash, self._approach, self._last_dir)
        if over is None:
            return [z]
        if not self._limits.contains(over):
            lim = self._limits
            raise LimitError(
                f"{what} needs a backlash overshoot to {over:g} um, outside the soft limits "
                f"[{lim.lo:g}, {lim.hi:g}] um: widen the limits by the backlash "
                f"({self._backlash:g} um) or reduce backlash_um"
            )
        return [self._quantise(over, what), z]

    def _commanded_str(self) -> str:
        return f"{self._commanded:g} um" if self._commanded is not None else "an unknown position"

    def _set_known(self, z: float) -> None:
        self._known = True
        self._unknown_reason = ""
        self._commanded = z
        self._intended = None
        self._last_dir = 0
        self._record(self._now(), z)

    def __repr__(self) -> str:
        lim = self._limits
        return f"<{type(self).__name__} {self.spec} limits=[{lim.lo:g}, {lim.hi:g}] um>"

    def _now(self) -> float:
        return self.clock.now()

    def _record(self, t: float, z_um: float) -> None:
        """Append a ``(t, z_um)`` sample to the trajectory (kept in time order)."""
        self._traj.record(t, z_um)

    def _mark_unknown(self, reason: str) -> None:
        """Record that the position is no longer known; moves are refused until resync/home."""
        self._known = False
        self._unknown_reason = reason
        self._commanded = None
        self._intended = None
        self._last_dir = 0

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceError(f"the {self.scheme} drive {self.spec} is closed: open it again with open_drive")

    def _check_ready(self) -> None:
        self._check_open()
        if not self._known:
            raise PositionUnknownError(
                f"the position of {self.spec} is unknown ({self._unknown_reason}): "
                f"call resync() (focuscam move re-reads it) or home() before moving"
            )
