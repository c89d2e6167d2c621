"""Clocks shared by drives, replays and the controller.

A clock has ``now()`` (seconds) and ``sleep(seconds)``. :class:`WallClock` is
``time.monotonic()`` and ``time.sleep``; :class:`VirtualClock` advances only when someone sleeps
on it, so tests and replays run at full speed while every timestamp stays consistent.
"""

from __future__ import annotations

import math
import threading
import time

from ..errors import InputError

__all__ = ["VirtualClock", "WallClock", "make_clock"]


class WallClock:
    """Real time: ``time.monotonic()`` seconds."""

    virtual = False

    def now(self) -> float:
        """Seconds of ``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of real time (negative or zero returns at once)."""
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "WallClock()"


class VirtualClock:
    """A clock that advances only by :meth:`sleep` (or :meth:`advance`); thread-safe.

    Parameters
    ----------
    start : float
        The initial time in seconds.
    """

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise InputError(f"clock start {start!r} is not a finite number of seconds")
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current virtual time in seconds."""
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` (negative or zero does nothing)."""
        if seconds > 0:
            with self._lock:
                self._t += float(seconds)

    advance = sleep

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now():.6f})"


def make_clock(clock: object, *, default: str = "wall") -> WallClock | VirtualClock:
    """Turn ``"wall"``, ``"virtual"``, ``None`` (-> ``default``) or a clock object into a clock."""
    if clock is None:
        clock = default
    if clock == "wall":
        return WallClock()
    if clock == "virtual":
        return VirtualClock()
    if callable(getattr(clock, "now", None)) and callable(getattr(clock, "sleep", None)):
        return clock  # type: ignore[return-value]
    raise InputError(
        f"clock {clock!r} is not a clock: give 'wall', 'virtual' or an object with now() and sleep()"
    )
