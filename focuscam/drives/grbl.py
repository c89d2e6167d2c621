"""A focus drive on the Z axis of a GRBL 1.1 controller (the common DIY stepper focus rig).

Wire protocol (GRBL 1.1): command lines in, ``ok`` or ``error:N`` out; realtime single bytes
(``?`` status, ``!`` feed hold, ``~`` resume, 0x18 soft reset, 0x85 jog cancel) get no reply and
are written under their own lock, apart from the line protocol. Z is in millimetres on the wire;
focuscam positions are um.

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

import math
import re
import threading
import time
from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError, PositionUnknownError, ProtocolError
from ._serial import SerialLine, printable
from .base import FocusDrive, _finite
from .grbl_codes import alarm_text, error_text

__all__ = ["GrblDrive", "StatusReport", "parse_status"]

BANNER = re.compile(r"^Grbl (\S+) \['\$' for help\]$")
_STATUS = re.compile(r"^<([A-Za-z]+)(?::\d+)?((?:\|[^|>]*)*)>$")

JOG_CANCEL = b"\x85"
SOFT_RESET = b"\x18"
STATUS = b"?"

#: How the CLI and Python users clear an alarm (one phrase wherever a message names it).
UNLOCK = "pass --unlock (allow_unlock=True from Python)"


class StatusReport:
    """One parsed ``<State|MPos:x,y,z|...>`` report; positions in mm as GRBL sends them."""

    __slots__ = ("fields", "mpos", "state", "wco", "wpos")

    def __init__(self, state: str, fields: dict[str, str]) -> None:
        self.state = state
        self.fields = fields
        self.mpos = _floats(fields.get("MPos"))
        self.wpos = _floats(fields.get("WPos"))
        self.wco = _floats(fields.get("WCO"))

    def __repr__(self) -> str:
        return f"StatusReport({self.state!r}, {self.fields!r})"


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ProtocolError(f"GRBL sent a malformed coordinate {text!r} in a status report") from None
    if not all(math.isfinite(v) for v in values):
        raise ProtocolError(
            f"GRBL sent a non-finite coordinate {text!r} in a status report; its position is unknown: "
            f"check the board, then resync or home"
        )
    return values


def parse_status(line: str) -> StatusReport:
    """Parse a GRBL 1.1 status report line; raises ProtocolError when it is malformed."""
    m = _STATUS.match(line)
    if not m:
        raise ProtocolError(f"GRBL sent {printable(line)!r} where a status report <State|...> was expected")
    fields: dict[str, str] = {}
    for part in m.group(2).split("|")[1:]:
        key, sep, value = part.partition(":")
        if not sep:
            raise ProtocolError(f"GRBL sent a malformed status field {part!r} in {printable(line)!r}")
        fields[key] = value
    try:
        report = StatusReport(m.group(1), fields)
    except ProtocolError as exc:
        raise ProtocolError(f"{exc} (report {printable(line)!r})") from None
    if report.mpos is None and report.wpos is None:
        raise ProtocolError(f"GRBL status report {printable(line)!r} has neither MPos nor WPos")
    for pos in (report.mpos, report.wpos, report.wco):
        if pos is not None and len(pos) < 3:
            raise ProtocolError(f"GRBL status report {printable(line)!r} has fewer than 3 axes")
    return report


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
        self._reset_seen = False
        self._last_z: float | None = None
        self._wco_z: float | None = None
        self._tol_mm = 0.002
        self.version = ""
        self.relative_on_device = False
        #: Mid-move status reports dropped as off the path (glitches), for logs and tests.
        self.wild_reports = 0
        if reset_on_open not in (True, False, "auto"):
            raise InputError(f"reset_on_open {reset_on_open!r} is not True, False or 'auto'")
        self.spec = f"grbl:{port}"
        self._line = SerialLine(port, baudrate=baudrate, name="GRBL")
        try:
            with self._io:
                if reset_on_open == "auto" and self._answers():
                    self.relative_on_device = True  # not reset: its parser kept the last target
                elif reset_on_open:
                    self._reset_and_wait_banner()
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

    # ------------------------------------------------------------------ protocol helpers
    def _answers(self) -> bool:
        """True when a running GRBL 1.1 answers ``?`` (Idle or Alarm) and ``$I``: no reset needed.

        Two tries (a bootloader may eat the first byte); the first waits at most 0.3 s.
        """
        for wait in (min(self._timeout, 0.3), self._timeout):
            self._line.discard_input()
            self._line.write_realtime(STATUS)
            deadline = time.monotonic() + wait
            state = None
            while state is None:
                try:
                    line = self._line.readline(deadline, what="a status report")
                except DeviceTimeout:
                    break
                except ProtocolError:
                    continue  # noise on the line: not an answer
                if BANNER.match(line):
                    return False  # it has just booted (the port's open reset it): nothing kept
                if line.startswith("<"):
                    try:
                        state = parse_status(line).state
                    except ProtocolError:
                        continue
            if state is not None:
                return state in ("Idle", "Alarm") and self._build_version()
        return False

    def _build_version(self) -> bool:
        """Ask ``$I``; True (and :attr:`version` set) when it names GRBL 1.1."""
        self._line.write_line("$I")
        deadline = time.monotonic() + self._timeout
        version = ""
        while True:
            try:
                line = self._line.readline(deadline, what="the reply to '$I'")
            except DeviceError:
                return False
            if line.startswith("[VER:"):
                parts = line[5:].split(".", 2)  # [VER:1.1h.20190825:]
                version = ".".join(parts[:2]) if len(parts) >= 2 else ""
            elif line == "ok" or line.startswith("error:"):
                if line == "ok" and version.startswith("1.1"):
                    self.version = version
                    return True
                return False

    def _reset_and_wait_banner(self, attempts: int = 3) -> None:
        for _ in range(attempts):
            self._line.discard_input()
            self._line.write_realtime(SOFT_RESET)
            deadline = time.monotonic() + self._timeout
            try:
                while True:
                    try:
                        line = self._line.readline(deadline, what="the start-up banner")
                    except ProtocolError:
                        continue  # noise while booting (some boards print junk on every reset)
                    m = BANNER.match(line)
                    if m:
                        self.version = m.group(1)
                        self._drain_messages(0.1)
                        return
            except DeviceTimeout:
                continue
        raise DeviceTimeout(
            f"no GRBL banner on {self._line.url} after {attempts} soft resets: "
            f"check the port, the baud rate and that the board runs GRBL 1.1"
        )

    def _drain_messages(self, seconds: float) -> None:
        """Read and interpret lines for a short time (start-up messages like [MSG:...])."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self._line.readline(deadline, what="start-up messages")
            except DeviceTimeout:
                return
            self._handle_async(line)

    def _handle_async(self, line: str) -> None:
        """Interpret a line that is not the reply we wait for; raise on alarms and resets."""
        if line.startswith("ALARM:"):
            code = _code(line)
            self._mark_unknown(f"ALARM:{code} {alarm_text(code)}")
            self._moving = False
            raise DeviceError(
                f"GRBL raised ALARM:{code} ({alarm_text(code)}); the position is unknown: "
                f"home the machine, or check it and {UNLOCK} to resync with $X"
            )
        if BANNER.match(line):
            self._mark_unknown("GRBL reset itself")
            self._reset_seen = True  # its counter restarted: a plain resync must not trust it
            raise DeviceError(
                f"GRBL reset itself (banner received mid-operation); the position is lost: "
                f"check power and cabling, then home it, or check where the optics are and "
                f"{UNLOCK} to resync"
            )
        if line.startswith(("[MSG:", "[GC:", "[HLP:", "[VER:", "[OPT:", "[echo:", "$", "[")):
            return
        if line.startswith("<"):
            parse_status(line)  # validates; stray report
            return
        raise ProtocolError(f"GRBL sent an unexpected line {printable(line)!r}; check the device type")

    def _command(self, line: str, *, timeout: float | None = None) -> list[str]:
        """Send a command line and wait for its ``ok``; return the lines before it."""
        self._line.write_line(line)
        deadline = time.monotonic() + (timeout if timeout is not None else self._timeout)
        extra: list[str] = []
        while True:
            reply = self._line.readline(deadline, what=f"the reply to {line!r}")
            if reply == "ok":
                return extra
            if reply.startswith("error:"):
                code = _code(reply)
                raise DeviceError(f"GRBL refused {line!r}: error:{code} ({error_text(code)})")
            if reply.startswith("$") and "=" in reply:
                extra.append(reply)
                continue
            self._handle_async(reply)

    def _status(self) -> StatusReport:
        """Ask for a realtime status report and return it (other lines are interpreted)."""
        self._line.write_realtime(STATUS)
        deadline = time.monotonic() + self._timeout
        while True:
            line = self._line.readline(deadline, what="a status report")
            if line.startswith("<"):
                report = parse_status(line)
                if report.wco is not None:
                    self._wco_z = report.wco[2]
                if report.state == "Alarm":
                    self._mark_unknown("GRBL is in alarm")
                return report
            if line == "ok":
                continue  # a late ok of an earlier line
            self._handle_async(line)

    def _read_settings(self) -> None:
        for line in self._command("$$"):
            key, _, value = line.partition("=")
            if key == "$102":
                try:
                    steps = float(value)
                except ValueError:
                    steps = math.nan
                if not math.isfinite(steps) or steps <= 0:
                    raise ProtocolError(
                        f"GRBL sent the setting {printable(line)!r}, not a positive number of Z steps/mm: "
                        f"set $102 on the board (e.g. $102=250)"
                    )
                self._tol_mm = max(1.5 / steps, 0.0005)
                self._set_resolution(1000.0 / steps)  # the Z step grid in um

    def _z_mm(self, report: StatusReport) -> float:
        if report.mpos is not None:
            return report.mpos[2]
        if self._wco_z is None:
            # WPos only ($10=0): WCO comes with some reports; ask until it does
            for _ in range(40):
                report2 = self._status()
                if report2.mpos is not None:
                    return report2.mpos[2]
                if self._wco_z is not None:
                    return report2.wpos[2] + self._wco_z  # type: ignore[index]
            raise ProtocolError("GRBL reports only WPos and never sent WCO: set $10=1 (MPos reports)")
        return report.wpos[2] + self._wco_z  # type: ignore[index]

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
            self._line.write_realtime(JOG_CANCEL)
            time.sleep(self._poll)
            self._line.discard_input()
            report = self._status_tolerant()
            if report.state == "Alarm":
                if not self._allow_unlock:
                    raise PositionUnknownError(
                        f"GRBL is in alarm: home the machine ($H), or check the position and "
                        f"{UNLOCK} to clear it with $X"
                    )
                self._command("$X")
                report = self._status_tolerant()
            deadline = time.monotonic() + self._timeout
            while report.state not in ("Idle", "Alarm") and time.monotonic() < deadline:
                time.sleep(self._poll)
                report = self._status_tolerant()
            if report.state != "Idle":
                raise PositionUnknownError(
                    f"GRBL is in state {report.state}, not Idle: resolve it (e.g. resume with ~) and resync"
                )
            if self._reset_seen and not self._allow_unlock:
                raise PositionUnknownError(
                    f"GRBL reset itself since its position was known: its counter restarted, so the "
                    f"position it reports means nothing: home it ($H), or check where the optics are "
                    f"and {UNLOCK} to accept the board's position"
                )
            self._reset_seen = False
            return self._z_um(report)

    def _status_tolerant(self, attempts: int = 5) -> StatusReport:
        """A status report for re-synchronisation: skips alarm/banner lines and garbled lines.

        A timeout is raised at once; other failures are retried ``attempts`` times.
        """
        for _ in range(attempts - 1):
            try:
                return self._status()
            except DeviceTimeout:
                raise
            except DeviceError:
                continue  # an ALARM or banner line already seen, or a garbled line: ask again
        return self._status()

    def _home(self) -> float:
        with self._io:
            self._command("$H", timeout=max(self._timeout, 60.0))
            self._reset_seen = False
            return self._z_um(self._status())


def _mm(z_mm: float) -> str:
    """A Z in mm for a command: 6 decimals (a nanometre), so the text never rounds a target
    that lies on the step grid inside the limits by more than float round-off."""
    text = f"{z_mm:.6f}"
    while text.endswith("0") and len(text) - text.index(".") > 5:
        text = text[:-1]  # 0.500000 -> 0.5000 (at least 4 decimals, like GRBL's own reports)
    return text


def _code(line: str) -> int:
    try:
        return int(line.split(":", 1)[1])
    except (IndexError, ValueError):
        raise ProtocolError(f"GRBL sent a malformed reply {printable(line)!r}") from None
