"""Pure encode/decode of the firmware protocol: vectors, round trips, and fuzzing with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from focuscam.drives import _fwproto as fp
from focuscam.errors import InputError, ProtocolError


def _crc8_bitwise_oracle(data: bytes) -> int:
    """CRC-8/SMBUS as polynomial division over GF(2), the slow obvious way."""
    bits = []
    for b in data:
        bits += [(b >> (7 - i)) & 1 for i in range(8)]
    bits += [0] * 8
    poly = [1, 0, 0, 0, 0, 0, 1, 1, 1]  # x^8 + x^2 + x + 1
    for i in range(len(bits) - 8):
        if bits[i]:
            for j, p in enumerate(poly):
                bits[i + j] ^= p
    return int("".join(map(str, bits[-8:])), 2)


def test_crc8_check_value_and_the_documented_example():
    assert fp.crc8(b"123456789") == 0xF4  # the published check value of CRC-8/SMBUS
    assert fp.encode_command(12, "MOVE", 400) == b"N12 MOVE 400*16\n"  # PROTOCOL.md's example


@given(st.binary(max_size=80))
def test_crc8_matches_polynomial_division(data):
    assert fp.crc8(data) == _crc8_bitwise_oracle(data)


@given(st.binary(min_size=1, max_size=60), st.integers(0, 59), st.integers(1, 255))
def test_crc8_detects_every_single_byte_error(data, pos, flip):
    pos %= len(data)
    bad = bytearray(data)
    bad[pos] ^= flip
    assert fp.crc8(bytes(bad)) != fp.crc8(data)


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_message_or_a_protocol_error(data):
    try:
        msg = fp.decode_line(data)
    except ProtocolError:
        return
    assert isinstance(msg, fp.Reply | fp.Event)


@given(st.text(max_size=100))
def test_any_text_decodes_to_a_message_or_a_protocol_error(text):
    try:
        msg = fp.decode_line(text)
    except ProtocolError:
        return
    assert isinstance(msg, fp.Reply | fp.Event)


_words = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=12)
_seqs = st.integers(1, fp.MAX_SEQ)


@given(_seqs, st.lists(st.from_regex(r"[a-z]{1,6}=-?[0-9a-z.]{1,8}", fullmatch=True), max_size=6))
def test_ok_replies_round_trip(seq, fields):
    reply = fp.Reply(ok=True, seq=seq, payload=" ".join(fields))
    assert fp.decode_line(fp.encode_reply(reply)) == reply


@given(st.integers(0, fp.MAX_SEQ), st.integers(1, 99), st.lists(_words, max_size=5))
def test_err_replies_round_trip(seq, code, words):
    reply = fp.Reply(ok=False, seq=seq, code=code, text=" ".join(words))
    assert fp.decode_line(fp.encode_reply(reply)) == reply


@given(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.lists(_words, max_size=5))
def test_events_round_trip(kind, args):
    event = fp.Event(kind=kind, args=tuple(args))
    assert fp.decode_line(fp.encode_reply(event)) == event


@given(
    _seqs,
    st.sampled_from(["ID", "MOVE", "MOVR", "LIM", "POS"]),
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=2),
)
def test_commands_are_framed_as_the_spec_says(seq, command, args):
    line = fp.encode_command(seq, command, *args)
    assert line.endswith(b"\n") and len(line) - 1 <= fp.MAX_COMMAND
    body, star, cc = line.rstrip(b"\n").rpartition(b"*")
    assert star and int(cc, 16) == fp.crc8(body)
    assert body.decode().split(" ") == [f"N{seq}", command, *map(str, args)]


@given(_seqs, st.binary(min_size=1, max_size=1), st.integers(0, 30))
def test_a_corrupted_reply_is_never_taken_for_a_valid_one(seq, byte, pos):
    original = fp.Reply(ok=True, seq=seq, payload="pos=123")
    good = fp.encode_reply(original)
    body = bytearray(good.rstrip(b"\r\n"))
    pos %= len(body)
    if body[pos] == byte[0]:
        return
    body[pos] = byte[0]
    try:
        msg = fp.decode_line(bytes(body))
    except ProtocolError:
        return
    # only a change of the checksum's letter case (hex is case-insensitive) may pass
    assert msg == original, f"{bytes(body)!r} was accepted as {msg!r}"


@pytest.mark.parametrize(
    "line",
    [b"", b"ok N1", b"ok N1*ZZ", b"ok N1 pos=1*00", b"hello*" + b"%02X" % fp.crc8(b"hello"), b"\xff\xfe*00"],
)
def test_bad_lines_raise_protocol_error(line):
    with pytest.raises(ProtocolError):
        fp.decode_line(line)


@pytest.mark.parametrize(
    ("seq", "command", "args"),
    [
        (0, "ID", ()),
        (65536, "ID", ()),
        (True, "ID", ()),
        (1, "move", ()),
        (1, "MOVE", (1.5,)),
        (1, "MOVE", (2**31,)),
    ],
)
def test_bad_commands_are_refused_before_encoding(seq, command, args):
    with pytest.raises(InputError):
        fp.encode_command(seq, command, *args)


def test_sequence_numbers_wrap_to_one():
    assert fp.next_seq(1) == 2
    assert fp.next_seq(fp.MAX_SEQ) == 1
