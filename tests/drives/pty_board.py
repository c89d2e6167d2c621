"""The plumbing every board emulator shares: the board side of a real pseudo-terminal.

A :class:`PtyBoard` opens a pty (both ends raw), serves :attr:`port` (the slave path the driver
under test opens with pyserial) and runs a reader thread that drops the first ``lose_bytes``
bytes (a bootloader eating them; kept in :attr:`dropped`), assembles ``\\n``-terminated lines
(``\\r`` ignored; every line logged in :attr:`received`) and calls the subclass's
:meth:`_line`, then :meth:`_tick` every couple of milliseconds (motion models advance there).

Faults shared by every board: :attr:`silent` (replies never come), :meth:`garbage` (noise
before the next reply), :attr:`fragment` (replies dribble out three bytes at a time) and
:meth:`vanish` (the port disappears: both pty fds closed, like a USB unplug).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Iterator


def boards(cls: type[PtyBoard]) -> Iterator[Callable[..., PtyBoard]]:
    """Body of a fixture that makes boards of ``cls`` on demand and closes them all afterwards."""
    made: list[PtyBoard] = []

    def make(**kw) -> PtyBoard:
        board = cls(**kw)
        made.append(board)
        return board

    yield make
    for board in made:
        board.close()


def backlash(mech: float, motor: float, direction: float, play: float) -> float:
    """Where a mechanical stage with a dead band ``play`` sits when its motor moves to ``motor``."""
    half = play / 2
    if direction > 0:
        return max(mech, motor - half)
    if direction < 0:
        return min(mech, motor + half)
    return mech


class PtyBoard:
    """Base of the board emulators; subclasses implement :meth:`_line` and :meth:`_tick`."""

    def __init__(self, name: str, lose_bytes: int) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self.master)
        self.port = os.ttyname(self._slave)
        self.received: list[str] = []
        self.raw = bytearray()  # every byte that reached the board, dropped ones included
        self.dropped = bytearray()
        self.silent = False
        self.fragment = False
        self._garbage = b""
        self._lock = threading.RLock()
        self._drop = lose_bytes
        self._buf = bytearray()
        self._stop = threading.Event()
        self._vanished = False
        self._name = name
        self._thread: threading.Thread | None = None

    def _start(self) -> None:
        """Start the reader thread: the subclass calls this at the end of its ``__init__``."""
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ test API
    def garbage(self, data: bytes) -> None:
        """Send ``data`` (noise) before the next reply."""
        with self._lock:
            self._garbage += data

    def vanish(self) -> None:
        """The port disappears (USB unplugged): close both pty fds."""
        with self._lock:
            self._vanished = True
            self._stop.set()
            for fd in (self.master, self._slave):
                with contextlib.suppress(OSError):  # already closed
                    os.close(fd)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if not self._vanished:
            self.vanish()

    # ------------------------------------------------------------------ for subclasses
    def _line(self, line: str) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        """Called under the lock after every read (or every 2 ms without input)."""

    def _byte(self, b: int) -> None:
        """One received byte (after the dropped ones): assemble lines."""
        if b == ord("\n"):
            line = self._buf.decode("ascii", "replace").strip()
            self._buf.clear()
            self.received.append(line)
            if line:
                self._line(line)
        elif b != ord("\r"):
            self._buf.append(b)

    def _write(self, text: str | bytes) -> None:
        data = text.encode("ascii") if isinstance(text, str) else text
        if self._vanished:
            return
        with contextlib.suppress(OSError):  # the reader went away: the bytes are lost, as on a wire
            if self.fragment and len(data) > 1:
                for i in range(0, len(data), 3):
                    os.write(self.master, data[i : i + 3])
                    time.sleep(0.003)
            else:
                os.write(self.master, data)

    def _reply(self, line: str) -> None:
        if self.silent:
            return
        if self._garbage:
            self._write(self._garbage)
            self._garbage = b""
        self._write(line + "\r\n")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.002)
            except (OSError, ValueError):
                return
            if ready:
                try:
                    data = os.read(self.master, 1024)
                except OSError:
                    data = b""
                with self._lock:
                    self.raw.extend(data)
                    for b in data:
                        if self._drop > 0:
                            self._drop -= 1
                            self.dropped.append(b)
                            continue
                        self._byte(b)
            with self._lock:
                self._tick()
