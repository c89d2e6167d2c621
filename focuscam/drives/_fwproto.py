"""Pure encode/decode of the focuscam motor protocol (``firmware_bridge/PROTOCOL.md``).

No I/O here: :func:`encode_command` builds a command line, :func:`decode_line` turns one
received line into a :class:`Reply` or an :class:`Event`, or raises
:class:`~focuscam.errors.ProtocolError` (never another exception, whatever the bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InputError, ProtocolError

__all__ = [
    "CORRUPTION_CODES",
    "ERROR_NAMES",
    "MAX_COMMAND",
    "MAX_SEQ",
    "PROTO_VERSION",
    "RT_STOP",
    "Event",
    "ProtocolError",
    "Reply",
    "crc8",
    "decode_line",
    "encode_command",
    "encode_reply",
    "next_seq",
    "parse_fields",
    "parse_int",
]

#: Protocol version this module speaks.
PROTO_VERSION = 1
#: The realtime stop byte (CAN, Ctrl-X).
RT_STOP = b"\x18"
#: Largest sequence number; the host wraps from it to 1.
MAX_SEQ = 65535
#: Longest command line (bytes before the line end) the firmware accepts.
MAX_COMMAND = 64

#: Error codes -> names (PROTOCOL.md, "Error codes").
ERROR_NAMES = {
    1: "CHECKSUM",
    2: "SYNTAX",
    3: "UNKNOWN",
    4: "ARG",
    5: "LIMIT",
    6: "BUSY",
    7: "FAULT",
    8: "DISABLED",
    9: "SWITCH",
    10: "OVERFLOW",
    11: "NOHOME",
}
#: Codes meaning "your line did not arrive intact": resending the same line is safe.
CORRUPTION_CODES = frozenset({1, 2, 10})

_COMMAND_RE = re.compile(r"[A-Z]{1,7}")
_REPLY_RE = re.compile(r"(ok|err) N(0|[1-9][0-9]{0,4})(?: (.*))?")
_EVENT_RE = re.compile(r"!([a-z]+)(?: (.*))?")


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS (polynomial 0x07, init 0, no reflection, no final XOR) of ``data``."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _frame(body: str) -> str:
    return f"{body}*{crc8(body.encode('ascii')):02X}"


def next_seq(seq: int) -> int:
    """The sequence number after ``seq`` (1..65535, wrapping to 1)."""
    return 1 if seq >= MAX_SEQ else seq + 1


def encode_command(seq: int, command: str, *args: int) -> bytes:
    """Encode one command line, ``N<seq> <CMD> [args]*CC\\n``, as bytes.

    Parameters
    ----------
    seq : int
        Sequence number 1..65535 (the same number when resending).
    command : str
        Upper-case command name (``ID``, ``MOVE``, ...).
    *args : int
        Integer arguments (steps, steps/s, ...), each a signed 32-bit number.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise InputError(f"seq {seq!r} is not an integer 1..{MAX_SEQ}: use next_seq()")
    if not isinstance(command, str) or not _COMMAND_RE.fullmatch(command):
        raise InputError(f"command {command!r} is not 1-7 upper-case letters, e.g. 'MOVE'")
    parts = [f"N{seq}", command]
    for a in args:
        if isinstance(a, bool) or not isinstance(a, int) or not -(2**31) <= a < 2**31:
            raise InputError(f"argument {a!r} of {command} is not a signed 32-bit integer")
        parts.append(str(a))
    line = _frame(" ".join(parts))
    if len(line) > MAX_COMMAND:
        raise InputError(f"command line {line!r} is longer than {MAX_COMMAND} bytes: use fewer arguments")
    return (line + "\n").encode("ascii")


@dataclass(frozen=True)
class Reply:
    """A final reply: ``ok N<seq> <payload>`` or ``err N<seq> <code> <text>``."""

    ok: bool
    seq: int
    payload: str = ""
    code: int = 0
    text: str = ""

    @property
    def fields(self) -> dict[str, str]:
        """``key=value`` pairs of an ``ok`` payload."""
        return parse_fields(self.payload)

    @property
    def name(self) -> str:
        """The error name of an ``err`` reply (``"LIMIT"``, ...); ``""`` for ``ok``."""
        return "" if self.ok else ERROR_NAMES.get(self.code, f"E{self.code}")


@dataclass(frozen=True)
class Event:
    """An asynchronous event line ``!<kind> <args>`` (done, stopped, limit, homed, fault, boot)."""

    kind: str
    args: tuple[str, ...] = field(default_factory=tuple)

    def int_arg(self, i: int) -> int:
        """Argument ``i`` as an integer; ProtocolError when it is not one."""
        try:
            return parse_int(self.args[i])
        except IndexError:
            raise ProtocolError(f"event !{self.kind} lacks argument {i + 1}") from None


def parse_int(text: str) -> int:
    """A decimal integer of at most 10 digits (a 32-bit step count); ProtocolError otherwise."""
    if not isinstance(text, str) or not re.fullmatch(r"-?[0-9]{1,10}", text):
        raise ProtocolError(f"{text!r} is not an integer")
    return int(text)


def parse_fields(payload: str) -> dict[str, str]:
    """Split ``"a=1 b=x"`` into ``{"a": "1", "b": "x"}``; ProtocolError on other shapes."""
    out: dict[str, str] = {}
    for part in payload.split():
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ProtocolError(f"reply field {part!r} is not key=value")
        out[key] = value
    return out


def decode_line(line: bytes | str) -> Reply | Event:
    """Decode one received line (line end optional) into a :class:`Reply` or :class:`Event`.

    Raises
    ------
    ProtocolError
        The line is not ASCII, its checksum is missing or wrong, or it has no known shape.
        This is the only exception this function raises.
    """
    if isinstance(line, str):
        try:
            raw = line.encode("ascii")
        except UnicodeEncodeError:
            raise ProtocolError(f"line {line!r} is not ASCII") from None
    elif isinstance(line, bytes | bytearray):
        raw = bytes(line)
    else:
        raise ProtocolError(f"line {line!r} is not bytes or str")
    raw = raw.rstrip(b"\r\n")
    if not raw or any(b < 0x20 or b > 0x7E for b in raw):
        raise ProtocolError(f"line {raw!r} is empty or holds non-printable bytes")
    text = raw.decode("ascii")
    if len(text) < 4 or text[-3] != "*":
        raise ProtocolError(f"line {text!r} has no *CC checksum")
    body, cc = text[:-3], text[-2:]
    if not re.fullmatch(r"[0-9A-Fa-f]{2}", cc):
        raise ProtocolError(f"line {text!r} has a malformed checksum {cc!r}")
    if int(cc, 16) != crc8(body.encode("ascii")):
        raise ProtocolError(f"line {text!r} has a wrong checksum (corrupted in transit)")
    m = _REPLY_RE.fullmatch(body)
    if m:
        kind, seq, rest = m.group(1), int(m.group(2)), m.group(3) or ""
        if kind == "ok":
            return Reply(ok=True, seq=seq, payload=rest)
        code_text, _, text_ = rest.partition(" ")
        try:
            code = parse_int(code_text)
        except ProtocolError:
            raise ProtocolError(f"error reply {body!r} lacks a numeric code") from None
        return Reply(ok=False, seq=seq, code=code, text=text_)
    m = _EVENT_RE.fullmatch(body)
    if m:
        return Event(kind=m.group(1), args=tuple((m.group(2) or "").split()))
    raise ProtocolError(f"line {body!r} is neither a reply (ok/err) nor an event (!...)")


def encode_reply(reply: Reply | Event) -> bytes:
    """Encode a reply or event as the firmware sends it (``...*CC\\r\\n``); for tests and tools."""
    if isinstance(reply, Event):
        body = "!" + " ".join((reply.kind, *reply.args))
    elif reply.ok:
        body = f"ok N{reply.seq}" + (f" {reply.payload}" if reply.payload else "")
    else:
        body = f"err N{reply.seq} {reply.code}" + (f" {reply.text}" if reply.text else "")
    return (_frame(body) + "\r\n").encode("ascii")
