"""Talk the protocol by hand (no FirmwareDrive): for tests that bypass the host's checks."""

from __future__ import annotations

import time

import serial

from focuscam.drives import _fwproto as fp


class RawPort:
    """A pyserial port that sends raw lines and collects decoded replies and events."""

    def __init__(self, path: str) -> None:
        self.s = serial.serial_for_url(path, baudrate=115200, timeout=0.05)
        self.seq = 1000

    def send(self, data: bytes) -> None:
        self.s.write(data)
        self.s.flush()

    def lines(self, until, timeout: float = 3.0) -> list:
        """Decoded lines until ``until(msgs)`` is true (or the timeout); garbled ones as ProtocolError."""
        msgs: list = []
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline and not until(msgs):
            buf += self.s.read(256)
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                if line.strip():
                    try:
                        msgs.append(fp.decode_line(line))
                    except fp.ProtocolError as exc:  # e.g. a banner cut by the port's opening
                        msgs.append(exc)
        return msgs

    def reply(self, data: bytes, timeout: float = 3.0) -> fp.Reply:
        """Send ``data`` and return the first reply (events are skipped)."""
        self.send(data)
        msgs = self.lines(lambda m: any(isinstance(x, fp.Reply) for x in m), timeout)
        replies = [m for m in msgs if isinstance(m, fp.Reply)]
        assert replies, f"no reply to {data!r} (got {msgs})"
        return replies[0]

    def cmd(self, command: str, *args: int, seq: int | None = None) -> fp.Reply:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return self.reply(fp.encode_command(seq, command, *args))

    def sync(self, timeout: float = 10.0) -> fp.Reply:
        """Send ``ID`` until it is answered: a board that is still booting drops bytes."""
        deadline = time.monotonic() + timeout
        while True:
            self.seq += 1
            self.send(fp.encode_command(self.seq, "ID"))
            msgs = self.lines(lambda m: any(isinstance(x, fp.Reply) for x in m), 0.5)
            replies = [m for m in msgs if isinstance(m, fp.Reply) and m.seq == self.seq]
            if replies:
                return replies[0]
            assert time.monotonic() < deadline, f"the board never answered ID (got {msgs})"

    def wait_event(self, kind: str, timeout: float = 10.0) -> fp.Event:
        msgs = self.lines(lambda m: any(isinstance(x, fp.Event) and x.kind == kind for x in m), timeout)
        events = [m for m in msgs if isinstance(m, fp.Event) and m.kind == kind]
        assert events, f"no !{kind} event in {timeout} s (got {msgs})"
        return events[0]

    def close(self) -> None:
        self.s.close()
