"""Following one move or homing of focuscam's motor firmware to its end (steps on the wire).

:class:`MotionWatch` is what a :class:`~focuscam.drives.firmware.FirmwareDrive` has to wait for
a motion: it reads the events the firmware sends (``!done``, ``!homed``, ``!stopped``,
``!limit``, ``!fault``) from its :class:`~focuscam.drives._fw_link.FirmwareLink`, polls
``STATUS`` when events stop coming (an event can be lost too), records every position it
learns, and turns an unexpected end into an error. Starting the motion, and what a failure
means for the position, stay in the drive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import DeviceError, DeviceTimeout
from . import _fwproto as fp
from ._fw_link import FirmwareLink

__all__ = ["STATUS_EVERY_S", "MotionWatch"]

#: Seconds between STATUS polls while a move runs and no event arrives.
STATUS_EVERY_S = 0.25


class MotionWatch:
    """Waits for the end of the firmware's moves and homing, and for rest after a stop; steps.

    Parameters
    ----------
    link : FirmwareLink
        The drive's connection (its events, ``STATUS``, timeout and retries).
    steps_per_um : float
        Motor steps per um, for the um in messages.
    record : callable
        ``record(steps)``, called with every position learnt during a motion (a trajectory
        sample of the drive).
    stop : threading.Event
        The drive's stop event: set, an early end of the motion is the stop's.
    """

    def __init__(
        self,
        link: FirmwareLink,
        *,
        steps_per_um: float,
        record: Callable[[int], None],
        stop: threading.Event,
    ) -> None:
        self._link = link
        self._spu = steps_per_um
        self._record = record
        self._stop = stop

    def deadline(self, distance: int) -> float:
        """The ``time.monotonic()`` by which a move of ``distance`` steps must have ended."""
        v, a = self._link.speed, self._link.accel
        est = distance / v + v / a  # cruise time plus the time lost to the two ramps
        return time.monotonic() + 3.0 * est + 2.0 + self._link.timeout * (self._link.retries + 1)

    def wait(self, start: int, target: int, kind: str, deadline: float) -> int:
        """Wait for the end of a move (``kind="move"``) or of homing (``"home"``); return steps."""
        link = self._link
        last = time.monotonic()
        self._record(start)
        while True:
            while link.events:
                end = self._event_end(link.events.popleft(), kind, target)
                if end is not None:
                    return end
            now = time.monotonic()
            if now >= deadline:
                raise DeviceTimeout(
                    f"the {kind} of {link.what} to {target / self._spu:g} um did not finish in time; "
                    f"check the motor and the switches, then resync()"
                )
            if now - last >= STATUS_EVERY_S:
                last = now
                st = link.transact("STATUS").fields
                pos = link.fields(fp.Reply(True, 0, " ".join(f"{k}={v}" for k, v in st.items())), "pos")[
                    "pos"
                ]
                self._record(pos)
                if link.events:
                    continue
                end = self._status_end(st, pos, kind, target)
                if end is not None:
                    return end
                continue
            link.poll_events(min(deadline, last + STATUS_EVERY_S), self._stop)

    def wait_rest(self, status: Callable[[], dict[str, str]]) -> None:
        """Poll ``status()`` (the fields of a STATUS) until the motor is no longer moving or
        homing (bounded)."""
        link = self._link
        deadline = time.monotonic() + 2.0 + link.timeout * (link.retries + 1)
        while True:
            state = status().get("state")
            if state not in ("moving", "homing"):
                return
            if time.monotonic() > deadline:
                raise DeviceTimeout(
                    f"{link.what} still says {state} after the stop: check the motor, then resync()"
                )
            time.sleep(0.01)

    def _event_end(self, ev: fp.Event, kind: str, target: int) -> int | None:
        """The end (steps) an event says the motion reached, None if it goes on; raises on faults."""
        what = self._link.what
        if ev.kind in ("done", "homed", "stopped", "limit") and ev.args:
            self._record(ev.int_arg(-1))
        if ev.kind == "done" and kind == "move" and ev.int_arg(0) == target:
            return target
        if ev.kind == "homed" and kind == "home":
            return ev.int_arg(0)
        if ev.kind == "stopped":
            if self._stop.is_set():
                return ev.int_arg(0)
            raise DeviceError(
                f"{what} stopped the {kind} at {ev.int_arg(0) / self._spu:g} um "
                f"without being asked to; resync() before moving again"
            )
        if ev.kind == "limit":
            which = ev.args[0] if ev.args else "?"
            raise DeviceError(
                f"{what} hit its {which} limit switch at {ev.int_arg(-1) / self._spu:g} um "
                f"during a {kind}: check the soft limits against the switches, then resync() "
                f"and move away from the switch"
            )
        if ev.kind == "fault":
            raise DeviceError(f"{what} reported a fault during a {kind}: {' '.join(ev.args)}")
        return None

    def _status_end(self, st: dict[str, str], pos: int, kind: str, target: int) -> int | None:
        """The end (steps) a STATUS at ``pos`` says the motion reached (an event was lost), None
        while it runs; raises when it ended anywhere else."""
        state = st.get("state")
        if state == "idle" and kind == "move" and pos == target:
            return pos  # the !done event was lost
        if state == "idle" and kind == "home" and st.get("homed") == "1":
            return pos
        if state == "idle" and self._stop.is_set():
            return pos
        if state in ("idle", "fault"):
            raise DeviceError(
                f"the {kind} of {self._link.what} ended at {pos / self._spu:g} um in state {state} "
                f"(fault {st.get('fault')}), not at {target / self._spu:g} um; resync() or home()"
            )
        return None
