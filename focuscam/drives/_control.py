"""Stopping, halting, closing, homing and re-synchronising a focus drive (um throughout).

:class:`DriveControl` is the part of :class:`~focuscam.drives.base.FocusDrive` that acts on a
drive outside the motion itself: the stop that may come from another thread or a signal
handler, the halt that waits for the motor to rest, closing, and making a lost position known
again. It declares the device hooks these need; :class:`~focuscam.drives.base.FocusDrive` adds
the move templates and the move hooks on top (the contract is in :mod:`focuscam.drives.base`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TypeVar

from ..errors import DeviceError
from ._state import DriveState

__all__ = ["DriveControl"]

_D = TypeVar("_D", bound="DriveControl")


class DriveControl(DriveState, ABC):
    """Stop, halt, close, home and resync of a focus drive (positions in um).

    Holds no state of its own (that is :class:`~focuscam.drives._state.DriveState`) and takes
    the parameters of :class:`~focuscam.drives.base.FocusDrive`. Subclasses implement the hooks
    ``_read_position``, ``_stop`` and ``_close`` and may override ``_wait_stopped``, ``_home``
    and ``_resync`` (see :mod:`focuscam.drives.base`).
    """

    @property
    def can_stop_mid_move(self) -> bool:
        """False for firmware that cannot interrupt a move: :meth:`stop` then lets it end."""
        return True

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

    def __enter__(self: _D) -> _D:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
