"""A focus drive on the Z motor of an OpenFlexure Sangaboard (text lines at 115200 baud).

Protocol used (Sangaboard firmware, see ../shared/notes/anchors.md): ``version`` ->
``Sangaboard Firmware v<x.y...>``; ``p?`` -> ``x y z`` (steps); ``mrz <steps>`` relative Z move;
``blocking_moves <true|false>``; ``moving?``; ``stop`` -> ``Move aborted``; ``zero``;
``release``. Positions are converted with ``steps_per_um`` (focuscam positions are um). The
version check, replies and ``p?`` are the drive's link (:mod:`focuscam.drives._sanga_link`).

Move completion:

- blocking mode (default): the move's reply comes only when the motion has finished. The
  wording differs between firmware versions, so ``done.``, ``done`` and ``stopped`` are all
  accepted as the end (and ``Move aborted`` after a stop). No mid-move positions exist in this
  mode: the trajectory holds the start and end of each move.
- non-blocking mode (``blocking=False``): the move answers ``done.`` at once; the drive polls
  ``moving?`` (``true``/``false``, or ``1``/``0``) and ``p?`` for mid-move positions until the
  motion has ended.
- Whatever ``blocking_moves`` answers (or nothing) is skipped up to the next ``p?`` reply.

The v1.0 wording was checked against the source of the refactored Sangaboard firmware (v1.0,
2021): a blocking move ends with ``stopped``, a non-blocking one answers ``done.`` at once,
``moving`` answers ``true``/``false``, ``blocking_moves`` answers ``done.``, and ``stop``
answers ``Move aborted`` even when nothing moved (so a stray one can arrive later: the next reply
read skips it) and an aborted blocking move never says ``stopped``. Commands are
matched by prefix there, so ``p?`` and ``moving?`` work. Older firmware (v0.5) wording was not
available to check: ``done.`` at the end of a blocking move, ``1``/``0`` for ``moving?`` and a
silent ``blocking_moves`` are accepted too. The tests run the driver against an emulator of
both styles.

The OpenFlexure Motor Board v0.4 (the Arduino Nano firmware many OpenFlexure rigs still run;
``version`` -> ``OpenFlexure Motor Board v0.4``) is supported too: ``mrz`` answers ``done`` when
the move ends and there is no ``stop``, ``moving?`` or ``blocking_moves``, so only blocking
moves are used, nothing else is sent, and a stop cannot interrupt a move: ``stop()`` sends
nothing, the move runs to its end and ``move_to`` raises ``Aborted`` saying so
(:attr:`SangaboardDrive.can_stop_mid_move` is False). Any other version of either firmware is
refused with the version line it printed.

Stop sends the ``stop`` line at once under the realtime lock (the firmware reads its serial
port between steps). Opening sends ``version`` (retried: bytes sent right after the port opens
can be lost while the board boots) and checks the reply names the Sangaboard firmware.

Relative moves across opens: the board counts whole steps and keeps nothing else, so a drive
opened by a new process starts ``move_by`` from the step position it reads back; an off-grid
target is rounded once per process (``focuscam move --by`` says so in one line).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError, ProtocolError
from ._sanga_link import (  # the protocol's names, importable from here as before
    ABORTED,
    DONE_WORDS,
    LEGACY_VERSION,  # noqa: F401
    SUPPORTED,  # noqa: F401
    VERSION,
    SangaboardLink,
)
from ._serial import SerialLine, printable
from .base import FocusDrive, _finite

__all__ = ["SangaboardDrive"]


class SangaboardDrive(FocusDrive):
    """Focus on a Sangaboard's Z motor; positions in um, steps on the wire.

    Parameters
    ----------
    port : str
        Anything ``serial.serial_for_url`` accepts.
    limits : ZLimits or (float, float) or str
        Soft limits in um, required (relative to the board's zero, ``p?`` z / ``steps_per_um``).
    steps_per_um : float
        Motor steps per um of focus travel (> 0; default 1).
    backlash_um, approach, settle_s
        See :class:`~focuscam.drives.base.FocusDrive`.
    speed_um_s : float
        The expected speed in um/s, used only for move timeouts (the firmware default step
        delay of 1000 us is 1000 steps/s).
    timeout_s : float
        Seconds to wait for a reply (added to each move's expected duration).
    blocking : bool
        Use blocking moves (default) or non-blocking moves with ``moving?`` polling.
    baudrate : int
        Serial baud rate (115200).
    poll_s : float
        Poll interval in non-blocking mode, s.
    """

    scheme = "sangaboard"

    def __init__(
        self,
        port: str,
        *,
        limits: Any = None,
        steps_per_um: float = 1.0,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.0,
        speed_um_s: float | None = None,
        timeout_s: float = 2.0,
        blocking: bool = True,
        baudrate: int = 115200,
        poll_s: float = 0.02,
    ) -> None:
        if limits is None:
            raise InputError(
                "a sangaboard drive needs soft limits: give limits=(MIN, MAX) in um (--limits MIN,MAX)"
            )
        super().__init__(limits=limits, backlash_um=backlash_um, approach=approach, settle_s=settle_s)
        self._spu = _finite(steps_per_um, "steps_per_um")
        if self._spu <= 0:
            raise InputError(
                f"steps_per_um {steps_per_um!r} must be positive: give motor steps per um, e.g. 2.5"
            )
        self._speed = 1000.0 / self._spu if speed_um_s is None else _finite(speed_um_s, "speed_um_s")
        if self._speed <= 0:
            raise InputError(f"speed_um_s {speed_um_s!r} must be positive: give um/s")
        self._timeout = _finite(timeout_s, "timeout_s")
        if self._timeout <= 0:
            raise InputError(f"timeout_s {timeout_s!r} must be positive: give seconds, e.g. 2")
        self._poll = _finite(poll_s, "poll_s")
        self._blocking = bool(blocking)
        self._io = threading.RLock()
        self._last_z: float | None = None
        self._set_resolution(1.0 / self._spu)  # one motor step
        self.version = ""
        #: True on the OpenFlexure Motor Board v0.4 firmware: no stop, moving? or blocking_moves.
        self.legacy = False
        self._pending_end: tuple[float, str] | None = None  # (deadline, command) of a running move
        self.spec = f"sangaboard:{port}"
        self._line = SerialLine(port, baudrate=baudrate, name="Sangaboard")
        self._link = SangaboardLink(self._line, self._timeout)
        try:
            with self._io:
                self._identify()
                z = self._set_mode() / self._spu
            self._record(self._now(), z)
        except BaseException:
            self._line.close()
            self._closed = True
            raise

    @property
    def steps_per_um(self) -> float:
        """Motor steps per um."""
        return self._spu

    # ------------------------------------------------------------------ protocol helpers
    def _identify(self) -> None:
        self.version, self.legacy = self._link.identify()

    def _set_mode(self) -> int:
        """Send ``blocking_moves`` (not to the v0.4 firmware), then ``p?``; return the z steps."""
        if self.legacy and not self._blocking:
            raise DeviceError(
                f"the OpenFlexure Motor Board v{self.version} firmware has no non-blocking moves "
                f"(no moving? command): open it with blocking=True (the default)"
            )
        return self._link.set_mode(None if self.legacy else self._blocking)

    def _check_reset(self, line: str) -> None:
        if VERSION.match(line):
            self._mark_unknown("the Sangaboard reset itself")
            raise DeviceError(
                "the Sangaboard reset itself mid-move (it printed its version); the position is lost: "
                "check power and cabling, then resync"
            )

    # ------------------------------------------------------------------ hooks
    def _move_to(self, z_um: float) -> None:
        with self._io:
            start = self._link.read_steps()
            target = round(z_um * self._spu)
            steps = target - start
            if steps == 0:
                return
            expected = abs(steps) / self._spu / self._speed
            deadline = time.monotonic() + 2 * expected + self._timeout
            self._line.write_line(f"mrz {steps}")
            if self._blocking:
                self._pending_end = (deadline, f"mrz {steps}")
                self._await_end()
                return
            reply = self._line.readline(deadline, what=f"the reply to 'mrz {steps}'")
            if reply not in DONE_WORDS:
                self._check_reset(reply)
                raise ProtocolError(
                    f"Sangaboard answered 'mrz {steps}' with {printable(reply)!r}, not 'done.'"
                )
            while True:
                if time.monotonic() > deadline:
                    raise DeviceTimeout(f"the Sangaboard did not finish 'mrz {steps}' in time")
                moving = self._link.query("moving?")
                self._check_reset(moving)
                z = self._link.read_steps() / self._spu
                self._last_z = z
                self._record(self._now(), z)
                if moving in ("false", "0"):
                    return
                if moving not in ("true", "1"):
                    raise ProtocolError(
                        f"Sangaboard answered moving? with {printable(moving)!r}, not true/false"
                    )
                if self._stop_event.is_set():
                    continue
                time.sleep(self._poll)

    def _await_end(self) -> None:
        """Read the end of the running blocking move (``done.``/``done``/``stopped``/aborted)."""
        if self._pending_end is None:
            return
        deadline, command = self._pending_end
        try:
            line = self._line.readline(deadline, what=f"the end of {command!r}")
        except DeviceError:
            self._pending_end = None  # the move failed: the position becomes unknown
            raise
        # (a KeyboardInterrupt keeps it pending: halt() reads the end after the stop)
        self._pending_end = None
        if line in DONE_WORDS or line == ABORTED:
            return
        self._check_reset(line)
        raise ProtocolError(
            f"Sangaboard answered {command!r} with {printable(line)!r}, not 'done.' or 'stopped'"
        )

    @property
    def can_stop_mid_move(self) -> bool:
        """False on the v0.4 firmware: it has no ``stop``, a move always runs to its end."""
        return not self.legacy

    def _wait_stopped(self) -> None:
        # a move abandoned mid-way (Ctrl-C) still owes its end line: read it (v0.4: the move runs
        # to its end; newer firmware: the stop's 'Move aborted' ends it at once)
        with self._io:
            if self._pending_end is not None:
                self._await_end()

    def _read_position(self) -> float:
        if not self._io.acquire(timeout=0.0):
            if self._last_z is not None:
                return self._last_z
            self._io.acquire()
        try:
            z = self._link.read_steps() / self._spu
            self._last_z = z
            return z
        finally:
            self._io.release()

    def _stop(self) -> None:
        if self.legacy:
            return  # v0.4 has no stop: the move runs to its end (move_to says so when it returns)
        self._line.write_realtime(b"stop\n")

    def _close(self) -> None:
        self._line.close()

    def _resync(self) -> float:
        with self._io:
            self._pending_end = None
            self._line.discard_input()
            self._identify()
            return self._set_mode() / self._spu

    def zero(self) -> float:
        """Define the current position as 0 um on the board (``zero``); returns 0.0.

        Limits stay as given, relative to the new zero.
        """
        with self._move_lock:
            self._check_open()
            with self._io:
                self._link.query("zero")
                z = self._link.read_steps() / self._spu
            self._set_known(z)
            return z

    def release(self) -> None:
        """De-energise the motors (``release``); the position is then unknown until resync."""
        with self._move_lock:
            self._check_open()
            with self._io:
                self._link.query("release")
            self._mark_unknown("motors released (the stage may have moved)")
