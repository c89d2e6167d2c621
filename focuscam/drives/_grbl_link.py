"""The line protocol of a GRBL 1.1 board: status reports, commands, start-up and async lines.

:class:`GrblLink` is the connection a :class:`~focuscam.drives.grbl.GrblDrive` has: it talks
to the board (``?`` reports, ``ok``/``error:N`` replies, the banner, ``$$`` and ``$I``) and
turns what the board says into values and errors; what the drive does with them (motion,
positions, re-synchronisation) stays in the drive. Z is in millimetres here, as on the wire.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from ..errors import DeviceError, DeviceTimeout, ProtocolError
from ._serial import SerialLine, printable
from .grbl_codes import alarm_text, error_text

__all__ = ["BANNER", "GrblLink", "StatusReport", "parse_status"]

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


class GrblLink:
    """The conversation with one GRBL 1.1 board over a :class:`SerialLine`.

    Parameters
    ----------
    line : SerialLine
        The open port.
    timeout_s : float
        Seconds to wait for any single reply.
    on_fault : callable
        ``on_fault(reason, reset)``, called before an alarm or a mid-operation reset is raised
        (``reset`` is True for the latter): the drive marks its position unknown.
    """

    def __init__(self, line: SerialLine, timeout_s: float, on_fault: Callable[[str, bool], None]) -> None:
        self.line = line
        self.timeout = timeout_s
        self._on_fault = on_fault
        #: GRBL's version, from ``$I`` or the banner ("" until known).
        self.version = ""
        #: The last work-coordinate offset of Z (mm) a report carried.
        self.wco_z: float | None = None

    # ------------------------------------------------------------------ start-up
    def answers(self) -> bool:
        """True when a running GRBL 1.1 answers ``?`` (Idle or Alarm) and ``$I``: no reset needed.

        Two tries (a bootloader may eat the first byte); the first waits at most 0.3 s.
        """
        for wait in (min(self.timeout, 0.3), self.timeout):
            self.line.discard_input()
            self.line.write_realtime(STATUS)
            deadline = time.monotonic() + wait
            state = None
            while state is None:
                try:
                    text = self.line.readline(deadline, what="a status report")
                except DeviceTimeout:
                    break
                except ProtocolError:
                    continue  # noise on the line: not an answer
                if BANNER.match(text):
                    return False  # it has just booted (the port's open reset it): nothing kept
                if text.startswith("<"):
                    try:
                        state = parse_status(text).state
                    except ProtocolError:
                        continue
            if state is not None:
                return state in ("Idle", "Alarm") and self._build_version()
        return False

    def _build_version(self) -> bool:
        """Ask ``$I``; True (and :attr:`version` set) when it names GRBL 1.1."""
        self.line.write_line("$I")
        deadline = time.monotonic() + self.timeout
        version = ""
        while True:
            try:
                text = self.line.readline(deadline, what="the reply to '$I'")
            except DeviceError:
                return False
            if text.startswith("[VER:"):
                parts = text[5:].split(".", 2)  # [VER:1.1h.20190825:]
                version = ".".join(parts[:2]) if len(parts) >= 2 else ""
            elif text == "ok" or text.startswith("error:"):
                if text == "ok" and version.startswith("1.1"):
                    self.version = version
                    return True
                return False

    def reset_and_wait_banner(self, attempts: int = 3) -> None:
        """Soft-reset (0x18) and wait for the banner, ``attempts`` times at most."""
        for _ in range(attempts):
            self.line.discard_input()
            self.line.write_realtime(SOFT_RESET)
            deadline = time.monotonic() + self.timeout
            try:
                while True:
                    try:
                        text = self.line.readline(deadline, what="the start-up banner")
                    except ProtocolError:
                        continue  # noise while booting (some boards print junk on every reset)
                    m = BANNER.match(text)
                    if m:
                        self.version = m.group(1)
                        self._drain_messages(0.1)
                        return
            except DeviceTimeout:
                continue
        raise DeviceTimeout(
            f"no GRBL banner on {self.line.url} after {attempts} soft resets: "
            f"check the port, the baud rate and that the board runs GRBL 1.1"
        )

    def _drain_messages(self, seconds: float) -> None:
        """Read and interpret lines for a short time (start-up messages like [MSG:...])."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                text = self.line.readline(deadline, what="start-up messages")
            except DeviceTimeout:
                return
            self.handle_async(text)

    def z_steps_per_mm(self) -> float | None:
        """``$102`` (Z steps/mm) from ``$$``; None when the board does not list it."""
        steps = None
        for text in self.command("$$"):
            key, _, value = text.partition("=")
            if key == "$102":
                try:
                    steps = float(value)
                except ValueError:
                    steps = math.nan
                if not math.isfinite(steps) or steps <= 0:
                    raise ProtocolError(
                        f"GRBL sent the setting {printable(text)!r}, not a positive number of Z steps/mm: "
                        f"set $102 on the board (e.g. $102=250)"
                    )
        return steps

    # ------------------------------------------------------------------ lines
    def handle_async(self, text: str) -> None:
        """Interpret a line that is not the reply we wait for; raise on alarms and resets."""
        if text.startswith("ALARM:"):
            code = _code(text)
            self._on_fault(f"ALARM:{code} {alarm_text(code)}", False)
            raise DeviceError(
                f"GRBL raised ALARM:{code} ({alarm_text(code)}); the position is unknown: "
                f"home the machine, or check it and {UNLOCK} to resync with $X"
            )
        if BANNER.match(text):
            self._on_fault("GRBL reset itself", True)
            raise DeviceError(
                f"GRBL reset itself (banner received mid-operation); the position is lost: "
                f"check power and cabling, then home it, or check where the optics are and "
                f"{UNLOCK} to resync"
            )
        if text.startswith(("[MSG:", "[GC:", "[HLP:", "[VER:", "[OPT:", "[echo:", "$", "[")):
            return
        if text.startswith("<"):
            parse_status(text)  # validates; stray report
            return
        raise ProtocolError(f"GRBL sent an unexpected line {printable(text)!r}; check the device type")

    def command(self, text: str, *, timeout: float | None = None) -> list[str]:
        """Send a command line and wait for its ``ok``; return the ``$N=`` lines before it."""
        self.line.write_line(text)
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        extra: list[str] = []
        while True:
            reply = self.line.readline(deadline, what=f"the reply to {text!r}")
            if reply == "ok":
                return extra
            if reply.startswith("error:"):
                code = _code(reply)
                raise DeviceError(f"GRBL refused {text!r}: error:{code} ({error_text(code)})")
            if reply.startswith("$") and "=" in reply:
                extra.append(reply)
                continue
            self.handle_async(reply)

    def status(self) -> StatusReport:
        """Ask for a realtime status report and return it (other lines are interpreted)."""
        self.line.write_realtime(STATUS)
        deadline = time.monotonic() + self.timeout
        while True:
            text = self.line.readline(deadline, what="a status report")
            if text.startswith("<"):
                report = parse_status(text)
                if report.wco is not None:
                    self.wco_z = report.wco[2]
                return report
            if text == "ok":
                continue  # a late ok of an earlier line
            self.handle_async(text)

    def z_mm(self, report: StatusReport) -> float:
        """Machine Z (mm) of a report: MPos, or WPos plus the last WCO (asked for if unknown)."""
        if report.mpos is not None:
            return report.mpos[2]
        if self.wco_z is None:
            # WPos only ($10=0): WCO comes with some reports; ask until it does
            for _ in range(40):
                report2 = self.status()
                if report2.mpos is not None:
                    return report2.mpos[2]
                if self.wco_z is not None:
                    return report2.wpos[2] + self.wco_z  # type: ignore[index]
            raise ProtocolError("GRBL reports only WPos and never sent WCO: set $10=1 (MPos reports)")
        return report.wpos[2] + self.wco_z  # type: ignore[index]


def _code(text: str) -> int:
    try:
        return int(text.split(":", 1)[1])
    except (IndexError, ValueError):
        raise ProtocolError(f"GRBL sent a malformed reply {printable(text)!r}") from None
