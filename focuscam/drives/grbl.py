"""A focus drive on the Z axis of a GRBL 1.1 controller (the common DIY stepper focus rig).

Wire protocol (GRBL 1.1): command lines in, ``ok`` or ``error:N`` out; realtime single bytes
(``?`` status, ``!`` feed hold, ``~`` resume, 0x18 soft reset, 0x85 jog cancel) get no reply and
are written under their own lock, apart from the line protocol. Z is in millimetres on the wire;
focuscam positions are um. The drive has a link (the line protocol,
:mod:`focuscam.drives._grbl_link`) and a recovery (resync and homing after a stop, an alarm or a
reset, :mod:`focuscam.drives._grbl_recovery`).

Choices, and why:

- **Opening**: a board that already runs answers the realtime ``?`` with a status report; when
  it is ``Idle`` (or in ``Alarm``) and ``$I`` names GRBL 1.1, it is not reset, so its parser
  keeps the target an earlier process sent (see below). Otherwise (no answer: many boards
  reset when the port opens, and pyserial drops bytes that arrived before the open, so the
  banner is usually lost; or a motion is still running) the drive sends a soft reset (0x18) and
  waits for ``Grbl 1.1x ['$' for help]``, retrying a few times (the first bytes after a board
  reset can be lost too). It then reads ``$$`` (``$102`` = Z steps/mm gives the resolution)
  and one status report. A board in ``Alarm`` has an unknown position.
- **Moves are jogs** in machine coordinates: ``$J=G53 G21 Z<mm> F<mm/min>``. A jog can be
  cancelled by the realtime jog cancel 0x85, which decelerates, flushes the jog and *keeps the
  position* (state returns to Idle). A G-code move could only be stopped by feed hold plus soft
  reset, and a reset during motion raises ``ALARM:3`` (position lost), so jogs make
  :meth:`~FocusDrive.stop` cheap and safe.
- **Completion**: ``ok`` only means "queued". GRBL locks G-code (``error:9``) while jogging, so
  ``G4 P0`` cannot be used after a jog; the drive polls the realtime ``?`` report until the state
  is ``Idle`` *and* MPos is at the target (right after ``ok``, ``?`` can still say ``Idle``
  before the motion starts). Every report is a trajectory sample.
- **Stop**: jog cancel 0x85 (position kept). A soft reset would lose the position.
- **Faults**: ``ALARM:N`` (with its meaning), a banner mid-move (the board reset),
  timeouts and garbage all mark the position unknown. :meth:`~FocusDrive.resync` re-reads the
  status; an alarm is unlocked with ``$X`` only when ``allow_unlock=True`` (otherwise home the
  machine or unlock it yourself after checking where it is).
- **Relative moves across opens** (issue 12 item 6): GRBL's parser keeps the commanded position
  unrounded (``gc_state.position``, machine mm) and rounds it to steps only for the motion
  (``lround``), but no command reports it. So :meth:`~FocusDrive.move_by` of a drive with no
  target of its own yet (a new process) is a relative jog (``$J=G91``) that GRBL adds to the
  target it kept, when everywhere it can end (its target is within half a step of the
  read-back plus ``dz``, the step it ends on within one) lies inside the limits and needs no
  backlash overshoot; otherwise the move goes to
  the nearest grid point as usual. Two ``--by -30`` runs at 4 um per step thus end at -60 um,
  not -64. Absolute moves send grid points, so a ``--by`` after a ``--to`` in another process
  starts from the grid point; a soft reset, a stop (jog cancel) or an alarm re-syncs GRBL's
  parser to the step position.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError, PositionUnknownError
from ._grbl_link import JOG_CANCEL, UNLOCK, GrblLink, StatusReport, parse_status
from ._grbl_recovery import GrblRecovery
from ._serial import SerialLine
from .base import FocusDrive, _finite

__all__ = ["GrblDrive", "StatusReport", "parse_status"]


class GrblDrive(FocusDrive):
    """Focus on the Z axis of a GRBL 1.1 board; positions in um (mm on the wire).

    Parameters
    ----------
    port : str
        Anything ``serial.serial_for_url`` accepts (``/dev/ttyUSB0``, ``/dev/pts/3``, ...).
    limits : ZLimits or (float, float) or str
        Soft limits in um, required (machine coordinates, MPos Z x 1000).
    backlash_um, approach, settle_s
        See :class:`~focuscam.drives.base.FocusDrive`.
    speed_um_s : float
        Jog feed rate in um/s (sent as ``F`` in mm/min).
    timeout_s : float
        Seconds to wait for any single reply (and added to each move's expected duration).
    allow_unlock : bool
        Allow :meth:`resync` to clear an alarm with ``$X`` (default False: home or unlock it
        yourself after checking the machine).
    baudrate : int
        Serial baud rate (GRBL 1.1 default 115200).
    poll_s : float
        Interval between ``?`` status polls during a move, in s.
    reset_on_open : bool or "auto"
        ``"auto"`` (default): soft-reset only a board that does not answer as an idle (or
        alarmed) GRBL 1.1; True: always send a soft reset at open and wait for the banner;
        False: never.
    """

    scheme = "grbl"
    #: GRBL's parser keeps the unrounded target for a later open that does not reset the board.
    keeps_target = True

    def __init__(
        self,
        port: str,
        *,
        limits: Any = None,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.0,
        speed_um_s: float = 500.0,
        timeout_s: float = 2.0,
        allow_unlock: bool = False,
        baudrate: int = 115200,
        poll_s: float = 0.02,
        reset_on_open: bool | str = "auto",
    ) -> None:
        if limits is None:
            raise InputError(
                "a grbl drive needs soft limits: give limits=(MIN, MAX) in um (--limits MIN,MAX), "
                "a range the optics can travel safely"
            )
        super().__init__(limits=limits, backlash_um=backlash_um, approach=approach, settle_s=settle_s)
        self._speed = _finite(speed_um_s, "speed_um_s")
        if self._speed <= 0:
            raise InputError(
                f"speed_um_s {speed_um_s!r} must be positive: give a feed rate in um/s, e.g. 500"
            )
        self._timeout = _finite(timeout_s, "timeout_s")
        if self._timeout <= 0:
            raise InputError(f"timeout_s {timeout_s!r} must be positive: give seconds, e.g. 2")
        self._poll = _finite(poll_s, "poll_s")
        self._allow_unlock = bool(allow_unlock)
        self._io = threading.RLock()
        self._moving = False
        self._last_z: float | None = None
        self._tol_mm = 0.002
        self.relative_on_device = False
        #: Mid-move status reports dropped as off the path (glitches), for logs and tests.
        self.wild_reports = 0
        if reset_on_open not in (True, False, "auto"):
            raise InputError(f"reset_on_open {reset_on_open!r} is not True, False or 'auto'")
        self.spec = f"grbl:{port}"
        self._line = SerialLine(port, baudrate=baudrate, name="GRBL")
        self._link = GrblLink(self._line, self._timeout, self._fault)
        self._recovery = GrblRecovery(self._link, self._status, self._poll)
        try:
            with self._io:
                if reset_on_open == "auto" and self._link.answers():
                    self.relative_on_device = True  # not reset: its parser kept the last target
                elif reset_on_open:
                    self._link.reset_and_wait_banner()
                self._read_settings()
                report = self._status()
            if report.state == "Alarm":
                self._mark_unknown(f"GRBL is in alarm at start-up (home it, or {UNLOCK} to clear it with $X)")
            else:
                self._record(self._now(), self._z_um(report))
        except BaseException:
            self._line.close()
            self._closed = True
            raise

    @property
    def version(self) -> str:
        """GRBL's version as the board named it (``$I`` or the banner; "" if neither came)."""
        return self._link.version

    # ------------------------------------------------------------------ the link
    def _fault(self, reason: str, reset: bool) -> None:
        """The link saw an alarm or a reset: the position is unknown, no motion runs."""
        self._mark_unknown(reason)
        self._moving = False
        if reset:
            self._recovery.reset_seen = True  # its counter restarted: a plain resync must not trust it

    def _command(self, line: str, *, timeout: float | None = None) -> list[str]:
        return self._link.command(line, timeout=timeout)

    def _status(self) -> StatusReport:
        report = self._link.status()
        if report.state == "Alarm":
            self._mark_unknown("GRBL is in alarm")
        return report

    def _read_settings(self) -> None:
        steps = self._link.z_steps_per_mm()
        if steps is not None:
            self._tol_mm = max(1.5 / steps, 0.0005)
            self._set_resolution(1000.0 / steps)  # the Z step grid in um

    def _z_mm(self, report: StatusReport) -> float:
        return self._link.z_mm(report)

    def _z_um(self, report: StatusReport) -> float:
        z = self._z_mm(report) * 1000.0
        self._last_z = z
        return z

    # ------------------------------------------------------------------ hooks
    def _move_to(self, z_um: float) -> None:
        self._jog(f"G53 G21 Z{_mm(z_um / 1000.0)}", z_um)

    def _move_by_device(self, dz_um: float, near_um: float) -> None:
        self._jog(f"G91 G21 Z{_mm(dz_um / 1000.0)}", near_um)

    def _jog(self, words: str, z_um: float) -> None:
        """Send the jog ``$J=<words> F..`` and block until GRBL rests at about ``z_um``."""
        target_mm = z_um / 1000.0
        with self._io:
            start = self._z_um(self._status())
            feed = self._speed * 60.0 / 1000.0  # mm/min
            self._moving = True
            try:
                self._command(f"$J={words} F{feed:.3f}")
                expected = abs(z_um - start) / self._speed
                deadline = time.monotonic() + 2 * expected + self._timeout
                lo, hi = min(start, z_um) - self._tol_mm * 1000, max(start, z_um) + self._tol_mm * 1000
                while True:
                    report = self._status()
                    if report.state == "Alarm":
                        raise DeviceError(
                            f"GRBL went into alarm during the move; the position is unknown: home it, or "
                            f"check the machine and {UNLOCK} to resync with $X"
                        )
                    z = self._z_mm(report) * 1000.0
                    if not lo <= z <= hi:
                        # a wild report (off the path from start to target: a glitch, not a position):
                        # never a trajectory sample nor the latest position; ask again
                        self.wild_reports += 1
                        if time.monotonic() > deadline:
                            raise DeviceTimeout(
                                f"GRBL reported Z = {z:g} um, off the path from {start:g} to {z_um:g} um, "
                                f"until the move's deadline: check the board, then resync"
                            )
                        time.sleep(self._poll)
                        continue
                    self._last_z = z
                    self._record(self._now(), z)
                    if report.state == "Idle":
                        if abs(z / 1000.0 - target_mm) <= self._tol_mm:
                            return
                        if self._stop_event.is_set():
                            return
                    elif report.state == "Jog" and self._stop_event.is_set():
                        # the stop's jog cancel arrived before GRBL parsed the jog: cancel again
                        self._line.write_realtime(JOG_CANCEL)
                    if time.monotonic() > deadline:
                        raise DeviceTimeout(
                            f"GRBL did not finish the move to {z_um:g} um in time (state {report.state}, "
                            f"at {z:g} um): check the feed rate and the motor"
                        )
                    time.sleep(self._poll)
            finally:
                self._moving = False

    def _read_position(self) -> float:
        if not self._io.acquire(timeout=0.0):
            # a move is polling: its latest report is at most one poll interval old
            if self._last_z is not None:
                return self._last_z
            self._io.acquire()
        try:
            report = self._status()
            if report.state == "Alarm":
                raise PositionUnknownError(
                    f"GRBL is in alarm: its position is not trustworthy; "
                    f"home it, or check the machine and {UNLOCK} to resync with $X"
                )
            return self._z_um(report)
        finally:
            self._io.release()

    def _stop(self) -> None:
        self._line.write_realtime(JOG_CANCEL)

    def _wait_stopped(self) -> None:
        """After a jog cancel GRBL decelerates: poll until the state is no longer Jog/Run."""
        with self._io:
            deadline = time.monotonic() + self._timeout + 5.0  # a reply timeout and a long ramp
            while True:
                report = self._status()
                if report.state not in ("Jog", "Run", "Home"):
                    return
                if time.monotonic() > deadline:
                    raise DeviceTimeout(
                        f"GRBL was still in state {report.state} {self._timeout + 5:g} s after the stop: "
                        f"check the machine, then resync"
                    )
                time.sleep(self._poll)

    def _close(self) -> None:
        self._line.close()

    def _resync(self) -> float:
        with self._io:
            return self._z_um(self._recovery.resync(self._allow_unlock))

    def _home(self) -> float:
        with self._io:
            return self._z_um(self._recovery.home())


def _mm(z_mm: float) -> str:
    """A Z in mm for a command: 6 decimals (a nanometre), so the text never rounds a target
    that lies on the step grid inside the limits by more than float round-off."""
    text = f"{z_mm:.6f}"
    while text.endswith("0") and len(text) - text.index(".") > 5:
        text = text[:-1]  # 0.500000 -> 0.5000 (at least 4 decimals, like GRBL's own reports)
    return text
