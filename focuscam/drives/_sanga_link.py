"""The line protocol of a Sangaboard (or an OpenFlexure Motor Board v0.4): version, replies, ``p?``.

:class:`SangaboardLink` is the connection a :class:`~focuscam.drives.sangaboard.SangaboardDrive`
has: it asks the board which firmware it runs, sends a command and reads its one-line reply
(skipping the ``Move aborted`` of an earlier stop), and reads the step position. The moves
themselves, their end and what a reset means for the position stay in the drive. Positions are
motor steps here, as on the wire.
"""

from __future__ import annotations

import re
import time

from ..errors import DeviceError, DeviceTimeout, ProtocolError
from ._serial import SerialLine, printable

__all__ = [
    "ABORTED",
    "DONE_WORDS",
    "LEGACY_VERSION",
    "SUPPORTED",
    "VERSION",
    "SangaboardLink",
]

VERSION = re.compile(r"^Sangaboard Firmware v(\d+)\.(\d+)\S*")
#: The OpenFlexure Arduino Nano firmware many rigs still run (``OpenFlexure Motor Board v0.4``).
LEGACY_VERSION = re.compile(r"^OpenFlexure Motor Board v(\d+)\.(\d+)\S*")
# step counts: at most 12 digits (a longer number is garbage, not a position)
_POSITION = re.compile(r"^(-?\d{1,12}) (-?\d{1,12}) (-?\d{1,12})$")
DONE_WORDS = ("done.", "done", "stopped")
#: Firmware versions this driver speaks: Sangaboard v0.5 and later 0.x, v1.x; Motor Board v0.4.
SUPPORTED = "Sangaboard Firmware v0.5 or v1.x, or OpenFlexure Motor Board v0.4"


def _supported(line: str) -> bool | None:
    """True: a version this driver speaks; False: a known firmware, unsupported version;
    None: not a version line."""
    m = VERSION.match(line)
    if m:
        major, minor = int(m.group(1)), int(m.group(2))
        return (major == 0 and minor >= 5) or major == 1
    m = LEGACY_VERSION.match(line)
    if m:
        return (int(m.group(1)), int(m.group(2))) == (0, 4)
    return None


ABORTED = "Move aborted"


class SangaboardLink:
    """The conversation with one Sangaboard (or Motor Board v0.4) over a :class:`SerialLine`.

    Parameters
    ----------
    line : SerialLine
        The open port.
    timeout_s : float
        Seconds to wait for a reply.
    """

    def __init__(self, line: SerialLine, timeout_s: float) -> None:
        self.line = line
        self.timeout = timeout_s

    def identify(self, attempts: int = 3) -> tuple[str, bool]:
        """Ask ``version`` (``attempts`` times at most); return the version and whether it is the
        OpenFlexure Motor Board v0.4 firmware. DeviceError for any other firmware or none."""
        last = ""
        for attempt in range(attempts):
            self.line.discard_input()
            self.line.write_line("version")
            deadline = time.monotonic() + self.timeout
            try:
                while True:
                    line = self.line.readline(deadline, what="the firmware version")
                    known = _supported(line)
                    if known is False:
                        raise DeviceError(
                            f"the board on {self.line.url} runs {printable(line)!r}, a firmware version "
                            f"focuscam does not support: flash {SUPPORTED}"
                        )
                    if known:
                        return line.split(" v", 1)[1], LEGACY_VERSION.match(line) is not None
                    last = line
                    if attempt < attempts - 1:
                        break  # e.g. a command mangled while the board booted: ask again
            except (DeviceTimeout, ProtocolError):
                continue
        seen = f" (last line {printable(last)!r})" if last else ""
        raise DeviceError(
            f"no Sangaboard firmware answered 'version' on {self.line.url}{seen}: "
            f"check the port and that the board runs {SUPPORTED}"
        )

    def query(self, command: str, *, timeout: float | None = None) -> str:
        """Send a command and return its one-line reply."""
        self.line.write_line(command)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            line = self.line.readline(deadline, what=f"the reply to {command!r}")
            if line == ABORTED:
                continue  # the answer to an earlier stop
            return line

    def set_mode(self, blocking: bool | None) -> int:
        """Send ``blocking_moves`` (None: nothing, the v0.4 firmware has none), then ``p?``;
        return the z steps.

        Whatever ``blocking_moves`` answers (firmware versions differ, some say nothing) is
        skipped up to the position reply.
        """
        if blocking is not None:
            self.line.write_line(f"blocking_moves {'true' if blocking else 'false'}")
        self.line.write_line("p?")
        deadline = time.monotonic() + self.timeout
        for _ in range(5):
            line = self.line.readline(deadline, what="the reply to 'p?'")
            m = _POSITION.match(line)
            if m:
                return int(m.group(3))
        raise ProtocolError(
            f"Sangaboard did not answer p? with 'x y z' step counts (last line {printable(line)!r})"
        )

    def read_steps(self) -> int:
        """The z step count from ``p?``."""
        reply = self.query("p?")
        m = _POSITION.match(reply)
        if not m:
            raise ProtocolError(f"Sangaboard answered p? with {printable(reply)!r}, not 'x y z' step counts")
        return int(m.group(3))
