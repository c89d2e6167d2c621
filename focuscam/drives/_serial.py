"""Line-oriented serial plumbing shared by the serial drives (GRBL, Sangaboard, focuscam firmware).

A :class:`SerialLine` *has* a pyserial port, opened always through ``serial.serial_for_url`` so
``/dev/ttyUSB0``, ``/dev/pts/3``, ``socket://host:port`` and ``loop://`` share one code path.

- :meth:`SerialLine.write_line` sends one command line (under the line lock),
- :meth:`SerialLine.write_realtime` sends urgent bytes (GRBL ``?``, ``!``, 0x18, 0x85, or a
  ``stop`` line) under a *separate* small lock, so a stop from another thread or a signal
  handler never waits for a move,
- :meth:`SerialLine.readline` returns one reply line (without its line ending) before a
  ``time.monotonic()`` deadline; partial lines stay buffered until their end arrives; a
  deadline passing raises :class:`~focuscam.errors.DeviceTimeout`, undecodable bytes raise
  :class:`~focuscam.errors.ProtocolError`, a vanished port raises
  :class:`~focuscam.errors.DeviceError`.

Only one thread at a time may read (the thread holding the drive's move/command lock).
"""

from __future__ import annotations

import errno
import threading
import time

from ..errors import DeviceError, DeviceTimeout, InputError, ProtocolError

__all__ = ["URL_SCHEMES", "SerialLine", "check_port", "printable"]

#: Longest reply line accepted before it is called garbage (bytes).
MAX_LINE = 1024

#: The pyserial URL handlers a rig may name (besides device paths). The others (``spy://``
#: writes a log file wherever its ``?file=`` says, ``hwgrep://``, ``alt://``, ``cp2110://``)
#: are refused: a rig file or a drive spec must never write or probe outside the port.
URL_SCHEMES = ("socket", "rfc2217", "loop")


def check_port(url: str) -> str:
    """Return ``url`` when it is a device path or an allowed URL (:data:`URL_SCHEMES`).

    Raises InputError (one line naming the port and the fix) for an empty port or any other
    pyserial URL handler.
    """
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"serial port {url!r} is empty: give e.g. /dev/ttyUSB0 or socket://host:port")
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() not in URL_SCHEMES:
        raise InputError(
            f"serial port {url!r} uses the {scheme.lower()}:// handler, which focuscam does not allow: "
            f"give a device path (/dev/ttyUSB0) or a socket://, rfc2217:// or loop:// URL"
        )
    return url


try:  # a vanished pty makes pyserial's tcflush raise termios.error (POSIX only)
    from termios import error as _TERMIOS_ERROR
except ImportError:  # pragma: no cover - Windows
    _TERMIOS_ERROR = OSError


def printable(data: bytes | str, limit: int = 60) -> str:
    """A short, printable rendering of device bytes for error messages."""
    if isinstance(data, bytes):
        data = data.decode("ascii", "backslashreplace")
    text = data.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[:limit] + "..."


class SerialLine:
    """A line-oriented connection to a device.

    Parameters
    ----------
    url : str
        Anything ``serial.serial_for_url`` accepts.
    baudrate : int
        Baud rate (ignored by pseudo-terminals and sockets).
    name : str
        Device name for messages (e.g. ``"GRBL"``).
    poll_s : float
        Read timeout of one low-level read, in seconds (how often deadlines are checked).
    """

    def __init__(
        self, url: str, *, baudrate: int = 115200, name: str = "device", poll_s: float = 0.02
    ) -> None:
        import serial

        self.url = check_port(url)
        self.name = name
        self._line_lock = threading.Lock()
        # re-entrant: a signal handler calling stop() may interrupt this thread inside a write
        self._rt_lock = threading.RLock()
        self._buf = bytearray()
        self._closed = False
        try:
            # exclusive: a second process opening the port would reset the board mid-move and
            # read the other's replies (flock on POSIX; URL handlers ignore it)
            self._port = serial.serial_for_url(
                url, baudrate=baudrate, timeout=poll_s, write_timeout=2.0, exclusive=True
            )
        except serial.SerialException as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
                raise DeviceError(
                    f"{name} port {url} is busy: another program (another focuscam?) has it open; "
                    f"close that program first"
                ) from exc
            raise DeviceError(
                f"cannot open {name} port {url}: {exc}; check the port name (focuscam ports lists them)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise DeviceError(
                f"cannot open {name} port {url}: {exc}; check the port name (focuscam ports lists them)"
            ) from exc
        #: Every line written (without line ending), for logs and tests.
        self.sent: list[str] = []

    @property
    def closed(self) -> bool:
        """True once the port is closed."""
        return self._closed

    def _fail(self, exc: BaseException, doing: str) -> DeviceError:
        return DeviceError(
            f"{self.name} port {self.url} failed while {doing}: {exc}; check the cable, then resync"
        )

    def write_line(self, line: str, *, eol: str = "\n") -> None:
        """Send one command line (the line ending is added)."""
        import serial

        data = (line + eol).encode("ascii")
        with self._line_lock:
            self._check_open()
            try:
                self._port.write(data)
                self._port.flush()
            except (serial.SerialException, OSError) as exc:
                raise self._fail(exc, f"writing {line!r}") from exc
            self.sent.append(line)

    def write_realtime(self, data: bytes) -> None:
        """Send urgent bytes at once, under a lock of their own (never waits for a move)."""
        import serial

        with self._rt_lock:
            self._check_open()
            try:
                self._port.write(data)
                self._port.flush()
            except (serial.SerialException, OSError) as exc:
                raise self._fail(exc, f"writing {printable(data)}") from exc

    def readline(self, deadline: float, *, what: str = "a reply") -> str:
        """Return the next line (decoded ASCII, without ``\\r\\n``) before ``deadline``.

        ``deadline`` is a ``time.monotonic()`` time. Blank lines are skipped.

        Raises
        ------
        DeviceTimeout
            No complete line arrived before the deadline (a partial line stays buffered).
        ProtocolError
            The line is not ASCII text or longer than :data:`MAX_LINE`.
        DeviceError
            The port failed or vanished.
        """
        import serial

        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                raw = raw.rstrip(b"\r")
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("ascii")
                except UnicodeDecodeError:
                    raise ProtocolError(
                        f"{self.name} sent garbage {printable(raw)!r} while {what} was expected; "
                        f"check the baud rate and the device type"
                    ) from None
                if not text.isprintable():
                    raise ProtocolError(
                        f"{self.name} sent garbage {printable(raw)!r} while {what} was expected; "
                        f"check the baud rate and the device type"
                    )
                return text
            if len(self._buf) > MAX_LINE:
                junk = bytes(self._buf[:60])
                self._buf.clear()
                raise ProtocolError(
                    f"{self.name} sent {MAX_LINE}+ bytes without a line end ({printable(junk)!r}...); "
                    f"check the baud rate and the device type"
                )
            if time.monotonic() >= deadline:
                partial = f" (partial line {printable(bytes(self._buf))!r})" if self._buf else ""
                raise DeviceTimeout(f"{self.name} on {self.url} did not send {what} in time{partial}")
            self._check_open()
            try:
                n = self._port.in_waiting
                chunk = self._port.read(n or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                raise self._fail(exc, f"waiting for {what}") from exc
            if chunk:
                self._buf.extend(chunk)

    def discard_input(self) -> None:
        """Drop buffered and pending input (stale replies)."""
        import serial

        self._buf.clear()
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError, _TERMIOS_ERROR) as exc:
            raise self._fail(exc, "discarding input") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceError(f"{self.name} port {self.url} is closed: open the drive again")

    def close(self) -> None:
        """Close the port; idempotent. A port that already vanished counts as closed."""
        import serial

        if self._closed:
            return
        self._closed = True
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            # the device is gone already (unplugged): there is nothing left to release
            return
