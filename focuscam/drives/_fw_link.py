"""The line protocol of focuscam's motor firmware: numbered, checksummed commands and events.

:class:`FirmwareLink` is the connection a :class:`~focuscam.drives.firmware.FirmwareDrive`
has. It sends one command at a time with a sequence number and a CRC-8 (encoding in
:mod:`focuscam.drives._fwproto`, specification in ``firmware_bridge/PROTOCOL.md``), resends the
*same* line after a corrupted reply, an ``err`` saying the line arrived corrupted, or no reply
(at most ``retries`` times), and queues the events (``!done``, ``!stopped``, ...) that arrive
between replies. What a refusal or a boot banner means for the position is the drive's
business: it is told through two callables.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from ..errors import DeviceError, DeviceTimeout, ProtocolError
from . import _fwproto as fp
from ._serial import SerialLine

__all__ = ["FirmwareLink", "Session"]

try:
    import termios

    _TTY_ERRORS: tuple[type[BaseException], ...] = (OSError, termios.error)
except ImportError:  # not POSIX
    _TTY_ERRORS = (OSError,)


class Session(NamedTuple):
    """What every handshake sends: the soft limits in steps, and speed/accel (None: the firmware's)."""

    limits: tuple[int, int]
    speed: int | None
    accel: int | None


class FirmwareLink:
    """One open port to the firmware, with its sequence numbers, resends and event queue.

    Parameters
    ----------
    port : str
        Anything ``serial.serial_for_url`` accepts.
    what : str
        How messages name the device ("the focuscam motor on /dev/ttyUSB0").
    timeout_s : float
        Seconds to wait for one reply before resending.
    retries : int
        Resends of one command before giving up.
    on_boot : callable
        Called with no argument when a boot banner arrives outside a handshake (the drive
        raises: the board reset mid-session).
    refuse : callable
        ``refuse(command, args, reply)`` -> the error to raise for an ``err`` reply that is not
        a corruption report.
    session : Session
        The settings every handshake sends.
    """

    def __init__(
        self,
        port: str,
        *,
        what: str,
        timeout_s: float,
        retries: int,
        on_boot: Callable[[], None],
        refuse: Callable[[str, tuple[int, ...], fp.Reply], DeviceError],
        session: Session,
    ) -> None:
        self.port = port
        self.what = what
        self.timeout = timeout_s
        self.retries = retries
        self._on_boot = on_boot
        self._refuse = refuse
        #: Held for every exchange (re-entrant: a drive holds it across several).
        self.io = threading.RLock()
        #: Events received between replies, oldest first.
        self.events: deque[fp.Event] = deque()
        #: Count of resends (corruption or timeouts) since open, for logs and tests.
        self.resends = 0
        self._seq = 0
        self._session = session
        self._handshaking = False
        #: Identification fields from ``ID`` (name, version, proto, build, target).
        self.info: dict[str, str] = {}
        #: The firmware's speed (steps/s) and acceleration (steps/s^2), read at the handshake.
        self.speed = 800
        self.accel = 4000
        self.line = SerialLine(port, name="focuscam motor", poll_s=0.01)

    def reopen(self) -> None:
        """Close the port and open it again (a USB board unplugged and plugged back)."""
        self.line.close()
        self.line = SerialLine(self.port, name="focuscam motor", poll_s=0.01)

    def close(self) -> None:
        self.line.close()

    def _on_event(self, ev: fp.Event) -> None:
        if ev.kind == "boot":
            if not self._handshaking:
                self._on_boot()
            return
        self.events.append(ev)

    def handshake(self, deadline: float) -> None:
        """ID (repeated until ``deadline`` while the board boots), then send every setting."""
        self._handshaking = True
        try:
            while True:
                try:
                    reply = self.transact("ID", timeout=min(self.timeout, 0.5))
                    break
                except (DeviceTimeout, ProtocolError):
                    if time.monotonic() >= deadline:
                        raise
            info = reply.fields
            if info.get("name") != "focuscam-motor":
                raise DeviceError(
                    f"{self.port} answered ID with {reply.payload!r}, not a focuscam motor: "
                    f"check the port (focuscam ports) or flash firmware_bridge"
                )
            if info.get("proto") != str(fp.PROTO_VERSION):
                raise DeviceError(
                    f"{self.what} speaks protocol {info.get('proto')!r}, this focuscam speaks "
                    f"{fp.PROTO_VERSION}: flash the firmware of this focuscam version"
                )
            self.info = info
            self.transact("LIM", *self._session.limits)
            if self._session.speed is not None:
                self.transact("SPEED", self._session.speed)
            if self._session.accel is not None:
                self.transact("ACCEL", self._session.accel)
            self.speed = self.fields(self.transact("SPEED"), "speed")["speed"]
            self.accel = self.fields(self.transact("ACCEL"), "accel")["accel"]
            self.transact("EN", 1)
        finally:
            self._handshaking = False

    def relink(self, boot_wait_s: float) -> None:
        """Handshake again (before resync/home); reopen the port first if it failed.

        A USB serial board that was unplugged and plugged back (under the same name, e.g. a
        ``/dev/serial/by-id/...`` link) leaves the old port dead: it is closed and opened again.
        """
        self.events.clear()
        try:
            self.line.discard_input()
            self.handshake(deadline=time.monotonic() + boot_wait_s)
            return
        except (DeviceTimeout, ProtocolError):
            raise
        except DeviceError as exc:
            if self.line.closed or not isinstance(exc.__cause__, _TTY_ERRORS):
                raise  # not an I/O failure of the port (serial.SerialException is an OSError;
                # flushing a vanished tty raises termios.error)
            # the port itself failed: open it again below
        self.reopen()
        self.handshake(deadline=time.monotonic() + boot_wait_s)

    def transact(self, command: str, *args: int, timeout: float | None = None) -> fp.Reply:
        """Send one command, return its ``ok`` reply; resend on corruption/timeouts (bounded)."""
        with self.io:
            self._seq = fp.next_seq(self._seq)
            seq = self._seq
            line = fp.encode_command(seq, command, *args).decode("ascii").rstrip("\n")
            wait = self.timeout if timeout is None else timeout
            tries = 0
            problem = ""
            while True:
                if tries > self.retries:
                    if problem.startswith("no reply"):
                        raise DeviceTimeout(
                            f"{self.what} did not answer {command} after {tries} tries of "
                            f"{wait:g} s; check the cable and power, then resync()"
                        )
                    raise ProtocolError(
                        f"{self.what}: {command} failed {tries} times ({problem}); check the cable "
                        f"and the baud rate (115200), then resync()"
                    )
                if tries:
                    self.resends += 1
                self.line.write_line(line)
                tries += 1
                problem, reply = self._await_reply(seq, command, args, time.monotonic() + wait)
                if reply is not None:
                    return reply

    def _await_reply(
        self, seq: int, command: str, args: tuple[int, ...], deadline: float
    ) -> tuple[str, fp.Reply | None]:
        """The ``ok`` reply to line ``seq``, or why it must be sent again."""
        while True:
            try:
                msg = fp.decode_line(self.line.readline(deadline, what=f"the reply to {command}"))
            except DeviceTimeout:
                return "no reply", None
            except ProtocolError as exc:
                return f"corrupted reply: {exc}", None
            if isinstance(msg, fp.Event):
                self._on_event(msg)
                continue
            if msg.seq == 0 and not msg.ok and msg.code in fp.CORRUPTION_CODES:
                return f"the line arrived corrupted ({msg.name})", None
            if msg.seq != seq:
                continue  # a stale reply to an earlier line (e.g. answered late)
            if msg.ok:
                return "", msg
            if msg.code in fp.CORRUPTION_CODES:
                return f"the line arrived corrupted ({msg.name})", None
            raise self._refuse(command, args, msg)

    def fields(self, reply: fp.Reply, *keys: str) -> dict[str, int]:
        """The integer fields ``keys`` of a reply; ProtocolError when one is missing."""
        try:
            f = reply.fields
            return {k: fp.parse_int(f[k]) for k in keys}
        except (KeyError, ValueError, ProtocolError) as exc:
            raise ProtocolError(
                f"{self.what} answered {reply.payload!r} without {', '.join(keys)}: {exc}; "
                f"flash the firmware of this focuscam version"
            ) from None

    def int_field(self, fields: dict[str, str], key: str) -> int:
        """One integer field of a status; ProtocolError when it is missing or not a number."""
        try:
            return fp.parse_int(fields[key])
        except (KeyError, ProtocolError):
            raise ProtocolError(
                f"{self.what} sent a status without a numeric {key}: {fields!r}; "
                f"flash the firmware of this focuscam version"
            ) from None

    def poll_events(self, until: float, stop: threading.Event) -> None:
        """Read lines until an event arrives, ``stop`` is set or ``until``; garbled lines are skipped."""
        while not self.events and not stop.is_set():
            try:
                raw = self.line.readline(min(until, time.monotonic() + 0.05), what="a motion event")
                msg = fp.decode_line(raw)
            except DeviceTimeout:
                if time.monotonic() >= until:
                    return
                continue
            except ProtocolError:
                continue  # a corrupted event: the STATUS poll finds out what happened
            if isinstance(msg, fp.Event):
                self._on_event(msg)
        if stop.is_set() and not self.events:
            # the realtime byte has been sent: give the !stopped event a moment to arrive
            try:
                raw = self.line.readline(min(until, time.monotonic() + self.timeout), what="!stopped")
                msg = fp.decode_line(raw)
                if isinstance(msg, fp.Event):
                    self._on_event(msg)
            except (DeviceTimeout, ProtocolError):
                return
