"""One controller owns a focus drive at a time.

Every controller-level motion -- an autofocus run, a jog from the window, the focus lock --
claims the drive from its :class:`DriveOwner` first (``DriveOwner.of(drive)``: one owner per
drive object, shared by the CLI, the window and any other front end that holds the drive).

- A claim while another *ordinary* claim is held (a second search while one runs) is refused at
  once with :class:`~focuscam.errors.DriveBusy`: nothing moves.
- The focus lock claims the drive *yielding*: a claim by anyone else asks the lock to pause.
  The lock finishes the move in progress, releases the drive and waits; the new claim gets
  the drive, and once it has been released the lock takes the drive back and resumes (or ends
  and reports, e.g. after a search that failed). So a search or a jog never runs while the lock
  moves the stage.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import DriveBusy

__all__ = ["Claim", "DriveOwner"]

_OWNERS: weakref.WeakKeyDictionary[Any, DriveOwner] = weakref.WeakKeyDictionary()
_OWNERS_LOCK = threading.Lock()


@dataclass(eq=False)
class Claim:
    """A held claim on a drive: who holds it (``name``) and, when yielding, the pause request."""

    name: str
    yielding: bool = False
    on_pause: Callable[[], Any] | None = None
    pause_requested: threading.Event = field(default_factory=threading.Event)


class DriveOwner:
    """The ownership token of one drive (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holder: Claim | None = None
        self._waiting = 0
        #: ``(name, event)`` pairs, ``event`` one of ``"claimed"``, ``"released"``, ``"paused"``.
        self.log: list[tuple[str, str]] = []

    @classmethod
    def of(cls, drive: Any) -> DriveOwner:
        """The owner of ``drive`` (created on first use; one per drive object)."""
        with _OWNERS_LOCK:
            owner = _OWNERS.get(drive)
            if owner is None:
                owner = _OWNERS[drive] = cls()
            return owner

    @property
    def holder(self) -> str | None:
        """The name of the claim that owns the drive now, or None."""
        with self._cond:
            return None if self._holder is None else self._holder.name

    def acquire(
        self,
        name: str,
        *,
        yielding: bool = False,
        on_pause: Callable[[], Any] | None = None,
        timeout_s: float = 30.0,
    ) -> Claim:
        """Claim the drive for ``name``; pause a yielding holder first.

        Raises
        ------
        DriveBusy
            An ordinary claim holds the drive, or a yielding holder did not let go within
            ``timeout_s`` seconds.
        """
        with self._cond:
            holder = self._holder
            if holder is not None and not holder.yielding:
                raise DriveBusy(
                    f"the drive is busy: {holder.name} owns it; wait for it to finish (or stop it) "
                    f"before {name}"
                )
            self._waiting += 1
            try:
                if holder is not None:
                    self.log.append((holder.name, "paused"))
                    holder.pause_requested.set()
                    if holder.on_pause is not None:
                        holder.on_pause()
                if not self._cond.wait_for(lambda: self._holder is None, timeout=timeout_s):
                    raise DriveBusy(
                        f"the drive is busy: {self.holder} did not let go within {timeout_s:g} s; "
                        f"stop it before {name}"
                    )
            finally:
                self._waiting -= 1
            claim = Claim(name, yielding, on_pause)
            self._holder = claim
            self.log.append((name, "claimed"))
            return claim

    def release(self, claim: Claim) -> None:
        """Give the drive back (a no-op for a claim that no longer holds it)."""
        with self._cond:
            if self._holder is claim:
                self._holder = None
                self.log.append((claim.name, "released"))
                self._cond.notify_all()

    def wait_turn(self, stop: threading.Event, poll_s: float = 0.05) -> bool:
        """Wait (a paused yielding claim) until nobody holds or waits for the drive.

        Returns False when ``stop`` was set first.
        """
        with self._cond:
            while self._holder is not None or self._waiting:
                if stop.is_set():
                    return False
                self._cond.wait(poll_s)
            return not stop.is_set()

    @contextmanager
    def claim(self, name: str, *, timeout_s: float = 30.0) -> Iterator[Claim]:
        """``with owner.claim("jog"): drive.move_by(10)``: an ordinary claim for a block."""
        held = self.acquire(name, timeout_s=timeout_s)
        try:
            yield held
        finally:
            self.release(held)
