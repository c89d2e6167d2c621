"""The focus-drive interface: one safe template over every kind of focus motor.

Units: every position and distance here is in **micrometres (um)**. A driver converts to its
own units inside its hooks (GRBL millimetres, motor steps via ``steps_per_um``, UVC focus
units as they are).

:class:`FocusDrive` holds the safety logic once, as template methods; drivers only fill in
small hooks. The public methods

- validate the request (a finite number), refuse it when the drive is closed or its position
  is unknown (:class:`~focuscam.errors.PositionUnknownError`), and check the soft limits
  *before anything is sent* (:class:`~focuscam.errors.LimitError`; never a silent clamp),
- quantise every target (and backlash overshoot) to the drive's step grid
  (:attr:`FocusDrive.resolution_um`) at a grid point INSIDE the soft limits, so no rounding step
  ever passes a limit; a grid with no point inside the limits is a LimitError,
- compensate backlash: every final approach comes from the configured direction (``approach``,
  default ``"up"``): when the move would end in the other direction, or the mechanism was last
  driven the other way, the drive first overshoots to ``z -+ backlash_um`` and comes back,
- wait until the motion has really finished, wait ``settle_s``, read the position back and
  return it,
- mark the position unknown when a move fails mid-way (timeout, garbage, disconnect, alarm);
  :meth:`FocusDrive.resync` or :meth:`FocusDrive.home` clears that.

Subclass hooks (names are stable; another team's ``FirmwareDrive`` implements them):

``_move_to(z_um)`` (required)
    Command an absolute move to ``z_um`` (um; already validated and inside the limits) and
    block until the motion has finished. Poll ``self._stop_event`` while waiting and return
    early (motion halted) once it is set. Record mid-move positions with
    ``self._record(t, z_um)``. Raise :class:`~focuscam.errors.DeviceTimeout`,
    :class:`~focuscam.errors.ProtocolError` or :class:`~focuscam.errors.DeviceError` on faults;
    the base then marks the position unknown.
``_read_position() -> float`` (required)
    Read the position back from the device, in um.
``_stop()`` (required)
    Halt motion *immediately*. Called from another thread or a signal handler while
    ``_move_to`` may be running: it must not take a lock that a move holds (write a realtime
    byte under a separate small lock, set an Event, ...).
``_close()`` (required)
    Release the device (close the port). Called once, after :meth:`FocusDrive.stop`.
``_wait_stopped()`` (optional)
    Block (bounded) until the motor has come to rest after :meth:`FocusDrive.stop`; used by
    :meth:`FocusDrive.halt`. The default returns at once (drives that stop instantly).
``_home() -> float`` (optional)
    Home the axis and return the position in um; the default refuses with a DeviceError.
``_resync() -> float`` (optional)
    Re-establish the position (clear an alarm where allowed, re-read it) and return it in um;
    the default re-reads it with ``_read_position()``.

Helpers for subclasses: ``self._record(t, z_um)``, ``self._mark_unknown(reason)``,
``self._now()``, ``self.clock``, ``self._stop_event``, and ``self._aim_um``: during
``_move_to``, the unquantised target (um) when this is the move's final step, else None. A
device that can keep it (FirmwareDrive) sends it along and sets ``keeps_target``, so that the
next process's :meth:`FocusDrive.move_by` adds to it (issue 12 item 6 across processes).
"""

from __future__ import annotations

import bisect
import math
import threading
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

from ..errors import Aborted, DeviceError, InputError, LimitError, PositionUnknownError, ProtocolError
from ..types import ZLimits
from ._limits import _finite, as_limits, grid_span, outside_limits
from .clock import make_clock

__all__ = ["FocusDrive", "as_limits", "grid_span", "outside_limits"]

#: Maximum number of (t, z) samples a drive keeps in its trajectory.
TRAJECTORY_MAX = 100_000


class FocusDrive(ABC):
    """Base class of every focus drive; positions in um.

    Parameters
    ----------
    limits : ZLimits or (float, float) or str
        Soft limits in um (inclusive). Every move, including the backlash overshoot, must stay
        inside them or it is refused before anything is sent.
    backlash_um : float
        Backlash compensation in um (>= 0): the overshoot used so that every final approach
        comes from the ``approach`` side. 0 disables it.
    approach : {"up", "down"}
        The direction of every final approach: ``"up"`` = from lower z (the default).
    settle_s : float
        Seconds to wait after a move has finished before the position is read back.
    clock : "wall", "virtual" or a clock object
        The time base for waits and the trajectory (default: wall time, ``time.monotonic()``).
    resolution_um : float
        The pitch in um of the drive's step grid (grid points are whole multiples of it, from
        z = 0); 0 means continuous. Every target is quantised once to the nearest grid point
        inside the soft limits. Drivers that learn their grid from the device call
        :meth:`_set_resolution`.
    """

    #: The spec scheme of this drive (``"sim"``, ``"grbl"``, ...); set by subclasses.
    scheme = "drive"
    #: True when the device itself keeps the unquantised commanded target, so that relative
    #: moves made by separate processes (separate opens) add up without rounding; False: a new
    #: open starts from the position read back, a point of the step grid.
    keeps_target = False

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
        self._traj: deque[tuple[float, float]] = deque(maxlen=TRAJECTORY_MAX)
        self._traj_lock = threading.Lock()

    # ------------------------------------------------------------------ properties
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

    def relative_base(self) -> float:
        """The z (um) :meth:`move_by` adds to: the last requested target (unquantised; after
        an open, the one the device kept, see :attr:`keeps_target`), else the position."""
        with self._move_lock:
            self._check_ready()
            return self._intended if self._intended is not None else self._current()

    def quantise(self, z_um: float) -> float:
        """The grid point (um) a move to ``z_um`` would be sent to.

        ``z_um`` must lie inside the soft limits; the result is the nearest whole multiple of
        :attr:`resolution_um` that also lies inside them (never past a limit by a rounding
        step). Raises LimitError when ``z_um`` is outside the limits or no grid point is inside.
        """
        z = _finite(z_um, "z_um")
        return self._quantise(z, f"a move to {z:g} um")

    def _quantise(self, z: float, what: str) -> float:
        lim = self._limits
        if not lim.contains(z):
            raise outside_limits(what, lim)
        res = self._resolution
        if res <= 0:
            return z
        kmin, kmax = grid_span(lim.lo, lim.hi, res)
        if kmin > kmax:
            raise LimitError(
                f"no step of the {res:g} um grid of {self.spec} lies inside the soft limits "
                f"[{lim.lo:g}, {lim.hi:g}] um: widen the limits to at least one step"
            )
        k = min(max(round(z / res), kmin), kmax)
        # k * res may differ from a limit that is exactly on the grid by float round-off only
        return min(max(k * res, lim.lo), lim.hi)

    def _set_resolution(self, resolution_um: float) -> None:
        """Set the step-grid pitch in um (0 = continuous); for drivers that learn it late."""
        res = _finite(resolution_um, "resolution_um")
        if res < 0:
            raise InputError(f"resolution_um {resolution_um!r} is negative: give 0 or the step in um")
        self._resolution = res

    @property
    def can_stop_mid_move(self) -> bool:
        """False for firmware that cannot interrupt a move: :meth:`stop` then lets it end."""
        return True

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
    def position(self) -> float:
        """The position read back from the device, in um."""
        self._check_open()
        z = self._reading(self._read_position(), "reading the position")
        self._record(self._now(), z)
        return z

    @property
    def trajectory(self) -> list[tuple[float, float]]:
        """Recorded ``(t, z_um)`` samples in time order (move starts/ends, mid-move reports)."""
        with self._traj_lock:
            return list(self._traj)

    def position_at(self, t: float) -> float:
        """The position in um at clock time ``t`` (s), interpolated linearly in the trajectory.

        After the last sample the drive is at rest at the last recorded position (every move
        records its start and end). Raises InputError for a ``t`` before the first sample.
        """
        t = float(t)
        samples = self.trajectory
        if not samples:
            raise InputError("the drive has no trajectory yet: move it (or read its position) first")
        times = [s[0] for s in samples]
        if not math.isfinite(t) or t < times[0]:
            raise InputError(
                f"time {t:.6f} s is before the recorded trajectory (starts at {times[0]:.6f} s): "
                f"give a time on the drive's clock after it was opened"
            )
        i = bisect.bisect_right(times, t)
        if i >= len(samples):
            return samples[-1][1]
        (t0, z0), (t1, z1) = samples[i - 1], samples[i]
        if t1 <= t0:
            return z1
        return z0 + (z1 - z0) * (t - t0) / (t1 - t0)

    # ------------------------------------------------------------------ public motion
    def move_to(self, z_um: float) -> float:
        """Move to ``z_um`` (um), wait until the motion has finished; return the read-back z (um).

        Raises
        ------
        InputError
            ``z_um`` is not a finite number.
        LimitError
            ``z_um`` (or the backlash overshoot) lies outside the soft limits; nothing was sent.
        PositionUnknownError
            The position became unknown earlier; call :meth:`resync` or :meth:`home`.
        Aborted
            :meth:`stop` was called during the move; the drive has been stopped.
        DeviceError, DeviceTimeout, ProtocolError
            The device failed; the position is then unknown.
        """
        z = _finite(z_um, "z_um")
        with self._move_lock:
            self._check_ready()
            return self._execute(self._current(), z, f"move_to({z:g} um)")

    def move_by(self, dz_um: float) -> float:
        """Move by ``dz_um`` (um) from the current position; return the read-back z (um).

        The target is the last requested target (before quantisation to the step grid, so
        repeated relative moves never accumulate rounding), else the read-back position, plus
        ``dz_um``; the same checks as :meth:`move_to` apply.
        """
        dz = _finite(dz_um, "dz_um")
        with self._move_lock:
            self._check_ready()
            current = self._current()
            base = self._intended if self._intended is not None else current
            return self._execute(current, base + dz, f"move_by({dz:g} um) to {base + dz:g} um")

    def _current(self) -> float:
        """The last commanded position, or the read-back one (a failed read: position unknown)."""
        if self._commanded is not None:
            return self._commanded
        return self._guarded_read("reading the position")

    def _guarded_read(self, doing: str) -> float:
        try:
            return self._reading(self._read_position(), doing)
        except DeviceError as exc:
            self._mark_unknown(f"{type(exc).__name__} while {doing}: {exc}")
            raise

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
        lim = self._limits
        z = self._quantise(z, what)
        steps = [z]
        if self._backlash > 0:
            a = self._approach
            if current is None:
                need = True
            else:
                delta = (z - current) * a  # > 0: moving in the approach direction
                engaged = self._last_dir == a
                need = delta < 0 or (delta < self._backlash and not engaged and delta != 0)
                if delta == 0 and not engaged:
                    need = True
            if need:
                over = z - a * self._backlash
                if not lim.contains(over):
                    raise LimitError(
                        f"{what} needs a backlash overshoot to {over:g} um, outside the soft limits "
                        f"[{lim.lo:g}, {lim.hi:g}] um: widen the limits by the backlash "
                        f"({self._backlash:g} um) or reduce backlash_um"
                    )
                steps = [self._quantise(over, what), z]
        return steps

    def _execute(self, current: float, z: float, what: str) -> float:
        steps = self._plan(current, z, what)
        self._intended = None
        self._stop_event.clear()
        self._record(self._now(), current)
        prev = current
        for i, target in enumerate(steps):
            if self._stop_event.is_set():
                break
            self._aim_um = z if i == len(steps) - 1 else None
            try:
                self._move_to(target)
            except LimitError:
                raise
            except DeviceError as exc:
                self._mark_unknown(f"{type(exc).__name__}: {exc}")
                raise
            except OSError as exc:
                self._mark_unknown(f"I/O error: {exc}")
                raise DeviceError(f"{what} failed: {exc}; check the connection, then resync") from exc
            except BaseException:
                # e.g. KeyboardInterrupt: the motion may go on; forget the commanded target
                # (the next move reads the position back) and leave stopping to the caller
                self._commanded = None
                self._last_dir = 0
                raise
            if target != prev:
                self._last_dir = 1 if target > prev else -1
            prev = target
            self._commanded = target
        if self._stop_event.is_set():
            self._after_stop()
            if not self.can_stop_mid_move:
                raise Aborted(
                    f"{what} was stopped, but {self.spec} cannot stop mid-move: the move ran to its "
                    f"end; the drive is at {self._commanded_str()}"
                )
            raise Aborted(f"{what} was stopped; the drive halted at about {self._commanded_str()}")
        self._intended = z
        if self._settle > 0:
            self.clock.sleep(self._settle)
        reached = self._guarded_read("reading back the reached position")
        self._record(self._now(), reached)
        return reached

    def _after_stop(self) -> None:
        """After a stop: re-read where the motion halted (position stays known if readable)."""
        self._commanded = None
        self._intended = None
        self._last_dir = 0
        if self._known:
            try:
                z = self._reading(self._read_position(), "reading the position after a stop")
            except DeviceError as exc:
                self._mark_unknown(f"position unreadable after stop: {exc}")
            else:
                self._commanded = z
                self._record(self._now(), z)

    def _commanded_str(self) -> str:
        return f"{self._commanded:g} um" if self._commanded is not None else "an unknown position"

    def stop(self) -> None:
        """Halt motion immediately; safe from another thread or a signal handler.

        A move in progress raises :class:`~focuscam.errors.Aborted`. Never blocks on a move.
        """
        self._stop_event.set()
        if not self._closed:
            self._stop()

    def halt(self) -> float | None:
        """Stop, wait until the motor has come to rest, and return the position read back (um).

        For reports after Ctrl-C: a motor that decelerates after the stop (GRBL's jog cancel)
        is still moving when :meth:`stop` returns, so its position is read only once the
        device says it is at rest (:meth:`_wait_stopped`, bounded by the driver's timeout).
        Returns None when the position cannot be read or is not trusted (after a fault).
        """
        self.stop()
        if self._closed:
            return None
        with self._move_lock:
            try:
                self._wait_stopped()
                if not self._known:
                    return None
                z = self._reading(self._read_position(), "reading the position after a stop")
            except DeviceError as exc:
                self._mark_unknown(f"position unreadable after stop: {exc}")
                return None
            self._commanded = z
            self._intended = None
            self._last_dir = 0
            self._record(self._now(), z)
            return z

    def close(self) -> None:
        """Stop motion and release the device; idempotent."""
        if self._closed:
            return
        stop_error: DeviceError | None = None
        try:
            self.stop()
        except DeviceError as exc:
            stop_error = exc
        finally:
            self._closed = True
            self._close()
        if stop_error is not None:
            raise DeviceError(
                f"{self.spec} is closed, but the stop before closing failed ({stop_error}): "
                f"check that the motor is not moving"
            ) from stop_error

    def home(self) -> float:
        """Home the axis where the device supports it; return the position in um."""
        with self._move_lock:
            self._check_open()
            self._stop_event.clear()
            z = self._reading(self._home(), "homing")
            self._set_known(z)
            return z

    def resync(self) -> float:
        """Re-read the position (clearing an alarm where allowed); return it in um.

        Clears the "position unknown" state when the device reports a usable position.
        """
        with self._move_lock:
            self._check_open()
            try:
                z = self._reading(self._resync(), "re-synchronising")
            except DeviceError as exc:  # a failed resync leaves nothing to trust
                if self._known:
                    self._mark_unknown(f"resync failed: {type(exc).__name__}: {exc}")
                raise
            self._set_known(z)
            return z

    def _set_known(self, z: float) -> None:
        self._known = True
        self._unknown_reason = ""
        self._commanded = z
        self._intended = None
        self._last_dir = 0
        self._record(self._now(), z)

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> FocusDrive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        lim = self._limits
        return f"<{type(self).__name__} {self.spec} limits=[{lim.lo:g}, {lim.hi:g}] um>"

    # ------------------------------------------------------------------ helpers for subclasses
    def _now(self) -> float:
        return self.clock.now()

    def _record(self, t: float, z_um: float) -> None:
        """Append a ``(t, z_um)`` sample to the trajectory (kept in time order)."""
        with self._traj_lock:
            if self._traj and t < self._traj[-1][0]:
                t = self._traj[-1][0]
            self._traj.append((float(t), float(z_um)))

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

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _move_to(self, z_um: float) -> None:
        """Move to ``z_um`` (um, inside the limits) and block until motion has finished."""

    @abstractmethod
    def _read_position(self) -> float:
        """Read the position back from the device, in um."""

    @abstractmethod
    def _stop(self) -> None:
        """Halt motion immediately without taking a lock a move holds."""

    @abstractmethod
    def _close(self) -> None:
        """Release the device."""

    def _wait_stopped(self) -> None:
        """Block until the motor is at rest after a stop (bounded); default: at rest at once."""
        return

    def _home(self) -> float:
        raise DeviceError(f"the {self.scheme} drive cannot home: use resync() or move_to() instead")

    def _resync(self) -> float:
        return self._read_position()
