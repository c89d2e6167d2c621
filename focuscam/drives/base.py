"""The focus-drive interface: one safe template over every kind of focus motor.

Units: every position and distance here is in **micrometres (um)**. A driver converts to its
own units inside its hooks (GRBL millimetres, motor steps via ``steps_per_um``, UVC focus
units as they are).

:class:`FocusDrive` holds the safety logic once, as template methods; drivers only fill in
small hooks (the move templates are here; stop, halt, close, home and resync come from its base
:class:`~focuscam.drives._control.DriveControl`, the state from
:class:`~focuscam.drives._state.DriveState`). The public methods

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

from abc import abstractmethod

from ..errors import Aborted, DeviceError, LimitError, ProtocolError
from ._control import DriveControl
from ._limits import _finite, as_limits, backlash_overshoot, grid_span, outside_limits
from ._state import DriveState  # noqa: F401 (importable from here, as before the split)

__all__ = ["FocusDrive", "as_limits", "grid_span", "outside_limits"]


class FocusDrive(DriveControl):
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

    #: True when the device itself keeps the unquantised commanded target, so that relative
    #: moves made by separate processes (separate opens) add up without rounding; False: a new
    #: open starts from the position read back, a point of the step grid.
    keeps_target = False
    #: True when the device keeps an unquantised commanded position that it does not report but
    #: that a relative command adds to (GRBL's parser, opened without a reset): a drive opened
    #: by a new process sends :meth:`move_by` as a relative command (hook ``_move_by_device``)
    #: when everywhere it can end, a step either side of the read-back plus ``dz``, lies inside
    #: the limits; otherwise it moves to the grid point as usual.
    relative_on_device = False

    def relative_base(self) -> float:
        """The z (um) :meth:`move_by` adds to: the last requested target (unquantised; after
        an open, the one the device kept, see :attr:`keeps_target`), else the position."""
        with self._move_lock:
            self._check_ready()
            return self._intended if self._intended is not None else self._current()

    @property
    def position(self) -> float:
        """The position read back from the device, in um."""
        self._check_open()
        z = self._reading(self._read_position(), "reading the position")
        self._record(self._now(), z)
        return z

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
            if self._intended is None and self._device_adds(current, dz):
                return self._execute(current, current + dz, f"move_by({dz:g} um)", by=dz)
            base = self._intended if self._intended is not None else current
            return self._execute(current, base + dz, f"move_by({dz:g} um) to {base + dz:g} um")

    def adds_on_device(self, dz_um: float) -> bool:
        """True when :meth:`move_by` of ``dz_um`` (um) would now be a relative command that the
        device adds to the target it kept (see :attr:`relative_on_device`)."""
        dz = _finite(dz_um, "dz_um")
        with self._move_lock:
            self._check_ready()
            return self._intended is None and self._device_adds(self._current(), dz)

    def _device_adds(self, current: float, dz: float) -> bool:
        """True when ``move_by(dz)`` from ``current`` (um, read back) may be sent as a relative
        command: the device keeps its own target within half a step of ``current``, so its new
        target is within half a step of ``current + dz`` and the step it ends on within one;
        all of that span must be inside the limits and need no backlash overshoot (see
        :attr:`relative_on_device`)."""
        res = self._resolution
        if not self.relative_on_device or res <= 0:
            return False
        lo, hi = current + dz - res, current + dz + res
        if not (self._limits.contains(lo) and self._limits.contains(hi)):
            return False
        ends = (lo, hi, current + dz)  # backlash: an overshoot depends only on the direction
        return all(
            backlash_overshoot(current, e, self._backlash, self._approach, self._last_dir) is None
            for e in ends
        )

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

    def _execute(self, current: float, z: float, what: str, *, by: float | None = None) -> float:
        """Run the plan to ``z`` (um); ``by``: one relative command of ``by`` um instead, to
        about ``z`` (the device adds it to the target it keeps, see ``_device_adds``)."""
        steps = self._plan(current, z, what) if by is None else [z]
        self._intended = None
        self._stop_event.clear()
        self._record(self._now(), current)
        prev = current
        for i, target in enumerate(steps):
            if self._stop_event.is_set():
                break
            self._aim_um = z if i == len(steps) - 1 else None
            try:
                if by is None:
                    self._move_to(target)
                else:
                    self._move_by_device(by, z)
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
        self._intended = z if by is None else None
        if self._settle > 0:
            self.clock.sleep(self._settle)
        reached = self._guarded_read("reading back the reached position")
        self._record(self._now(), reached)
        if by is not None:
            if abs(reached - z) > self._resolution * (1 + 1e-6):
                self._mark_unknown(f"{what} ended at {reached:g} um, not within a step of {z:g} um")
                raise ProtocolError(
                    f"{what} from {current:g} um ended at {reached:g} um, not within a step of "
                    f"{z:g} um: the target {self.spec} kept was not where it reported; check the "
                    f"device, then resync"
                )
            self._commanded = reached
        return reached

    @abstractmethod
    def _move_to(self, z_um: float) -> None:
        """Move to ``z_um`` (um, inside the limits) and block until motion has finished."""

    def _move_by_device(self, dz_um: float, near_um: float) -> None:
        """Command a relative move by ``dz_um`` (um), added by the device to the target it keeps,
        and block until it has finished (about ``near_um``); drives with
        :attr:`relative_on_device` implement it."""
        raise NotImplementedError(f"{self.spec} cannot move relative to a target it keeps")
