"""focuscam's PNG decoder (stacks/_png.py) gives OpenCV's pixels, or None (then OpenCV decodes)."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from focuscam.stacks import load_stack
from focuscam.stacks._png import MAX_PIXELS, decode_png


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _filter_row(kind: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out.append((x - pred) & 255)
    return bytes([kind]) + bytes(out)


def encode(rgb: np.ndarray, filters=None, extra=(), ihdr=None, colour=None) -> bytes:
    """A PNG of ``rgb`` (H x W gray, H x W x 3 RGB or H x W x 4 RGBA; uint8 or uint16) with the
    given filter type per row (default: 0..4 in turn) and extra chunks before IDAT."""
    height, width = rgb.shape[:2]
    nch = 1 if rgb.ndim == 2 else rgb.shape[2]
    depth = 16 if rgb.dtype == np.uint16 else 8
    colour = {1: 0, 3: 2, 4: 6}[nch] if colour is None else colour
    data = rgb.astype(">u2" if depth == 16 else np.uint8).tobytes()
    stride = width * nch * depth // 8
    bpp = nch * depth // 8
    prev = bytes(stride)
    raw = b""
    for r in range(height):
        row = data[r * stride : (r + 1) * stride]
        kind = (r % 5) if filters is None else filters[r % len(filters)]
        raw += _filter_row(kind, row, prev, bpp)
        prev = row
    head = ihdr or struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    chunks = [_chunk(b"IHDR", head), *(_chunk(k, b) for k, b in extra)]
    body = b"".join(chunks) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def cv_decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


LAYOUTS = [((7, 5), np.uint8), ((7, 5, 3), np.uint8), ((6, 9, 4), np.uint8), ((5, 4), np.uint16)]
LAYOUTS += [((4, 7, 3), np.uint16), ((1, 1), np.uint8), ((3, 1, 3), np.uint8), ((1, 13, 3), np.uint16)]


@pytest.mark.parametrize("shape,dtype", LAYOUTS)
@pytest.mark.parametrize("filters", [None, [0], [1], [2], [3], [4], [4, 3, 2, 1]])
def test_every_filter_type_gives_opencvs_pixels(shape, dtype, filters):
    rng = np.random.default_rng(hash((shape, str(filters))) % 2**32)
    img = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    data = encode(img, filters, extra=[(b"tEXt", b"Comment\x00focuscam"), (b"pHYs", bytes(9))])
    ours, theirs = decode_png(data), cv_decode(data)
    assert ours is not None
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_opencv_written_frames(channels, dtype):
    rng = np.random.default_rng(channels)
    shape = (61, 83) if channels == 1 else (61, 83, channels)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, shape).astype(np.float32), (0, 0), 2)
    img = (smooth * (257 if dtype == np.uint16 else 1)).astype(dtype)
    ok, enc = cv2.imencode(".png", img)
    assert ok
    np.testing.assert_array_equal(decode_png(enc.tobytes()), img)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _ihdr(width, height, depth, colour, interlace=0):
    return struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)


GOOD = encode(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
OTHER_LAYOUTS = {
    "palette": encode(np.zeros((2, 4), np.uint8), colour=3, extra=[(b"PLTE", bytes(3 * 256))]),
    "gray+alpha": encode(np.zeros((2, 4), np.uint16), ihdr=_ihdr(4, 2, 8, 4)),
    "4-bit gray": encode(np.zeros((2, 4), np.uint8), ihdr=_ihdr(8, 2, 4, 0)),
    "interlaced": encode(np.zeros((2, 4), np.uint8), ihdr=_ihdr(4, 2, 8, 0, 1)),
    "transparency": encode(np.zeros((2, 4), np.uint8), extra=[(b"tRNS", b"\x00\x07")]),
    "gamma": encode(np.zeros((2, 4), np.uint8), extra=[(b"gAMA", struct.pack(">I", 45455))]),
    "bad crc": _flip(GOOD, 30),
    "truncated": GOOD[:-20],
    "too many pixels": encode(np.zeros((1, 1), np.uint8), ihdr=_ihdr(MAX_PIXELS + 1, 1, 8, 0)),
}


def _bad_filter() -> bytes:
    raw = b"\x05" + bytes(4) + b"\x00" + bytes(4)
    head = _chunk(b"IHDR", _ihdr(4, 2, 8, 0))
    return b"\x89PNG\r\n\x1a\n" + head + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _short_stream() -> bytes:
    raw = b"\x00" + bytes(4)  # one row of two
    head = _chunk(b"IHDR", _ihdr(4, 2, 8, 0))
    return b"\x89PNG\r\n\x1a\n" + head + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


OTHER_LAYOUTS["filter type 5"] = _bad_filter()
OTHER_LAYOUTS["short zlib stream"] = _short_stream()


@pytest.mark.parametrize("name", sorted(OTHER_LAYOUTS))
def test_other_layouts_and_damage_are_left_to_opencv(name):
    assert decode_png(OTHER_LAYOUTS[name]) is None


def test_a_stack_of_pngs_decodes_without_opencv(tmp_path):
    """The point of it: a PNG stack is read, and scored, without importing OpenCV."""
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), f)
    stack = load_stack(folder)
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(stack.image(i), f)
    code = (
        "import sys; from focuscam.stacks import load_stack; from focuscam.measures import measure; "
        f"s = load_stack({str(folder)!r}); [measure(s.image(i), 'lapv') for i in range(len(s))]; "
        "print('cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
