"""What a stack reader trusts: nothing. Paths stay inside the folder, sizes are checked first.

- :func:`check_name` is the rule for a frame entry's ``file``: a relative path, no ``..``, no
  NUL, every component at most 255 bytes.
- :func:`inside` resolves a path (symbolic links followed) and refuses one that lands outside
  the stack folder: a frame, ``frames/``, ``stack.json`` or the journal linked elsewhere.
- :func:`read_json` reads a JSON file that is regular and at most :data:`MAX_JSON_BYTES`, and
  refuses nesting deeper than :data:`MAX_JSON_DEPTH`.
- :func:`image_header` reads width, height and sample type from the first bytes of a PNG, JPEG,
  TIFF, BMP, PNM or WebP file, so :func:`read_frame` can refuse a decompression bomb, a frame
  of another size or dtype than frame 0, before a single pixel is decoded.

Every refusal is a :class:`~focuscam.errors.StackError` with one line naming the file.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._files import FileProblem, read_regular
from ..errors import StackError

__all__ = [
    "MAX_FRAMES",
    "MAX_FRAME_BYTES",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_PIXELS",
    "ImageHeader",
    "check_name",
    "image_header",
    "inside",
    "read_frame",
    "read_json",
]

#: Largest stack.json read (bytes): some 700,000 frame entries as focuscam writes them.
MAX_JSON_BYTES = 32 << 20
#: Deepest JSON nesting accepted in stack.json (the format itself needs 3).
MAX_JSON_DEPTH = 64
#: Most frames one stack may list (stack.json and journal together).
MAX_FRAMES = 1_000_000
#: Largest frame file read (bytes, compressed).
MAX_FRAME_BYTES = 1 << 30
#: Most pixels one frame may declare (e.g. 16384 x 8192); more is refused before decoding.
MAX_PIXELS = 1 << 27
#: Longest file name component (bytes), as on every common file system.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def check_name(name: Any) -> str | None:
    """Return what is wrong with a frame entry's ``file`` value, or None when it is fine."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty path relative to the stack folder"
    if "\x00" in name:
        return "holds a NUL character"
    try:
        raw = os.fsencode(name)
    except UnicodeError:
        return "is not encodable as a file name"
    if len(raw) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        return f"{name[:80]!r} is absolute: give a path relative to the stack folder"
    parts = name.replace("\\", "/").split("/")
    if os.pardir in parts:
        return f"{name[:80]!r} points outside the stack folder ('..')"
    for part in parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            return f"has a name component longer than {MAX_NAME_BYTES} bytes ({part[:40]!r}...)"
    return None


def inside(root: Path, path: Path, what: str) -> Path:
    """Return ``path`` resolved (links followed) if it stays inside ``root``; else StackError."""
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(path)
    except (OSError, ValueError) as exc:
        raise StackError(f"{what} {path} cannot be resolved: {exc}") from None
    if os.path.commonpath([real_root, real]) != real_root:
        raise StackError(
            f"{what} {path} is a symbolic link to {real}, outside the stack folder {root}: "
            "focuscam reads nothing outside a stack; copy the file into the folder"
        )
    return Path(real)


def _read(path: Path, limit: int, what: str, fix: str) -> bytes:
    try:
        return read_regular(path, limit)
    except FileNotFoundError:
        raise StackError(f"{what} {path} is missing: {fix}") from None
    except FileProblem as exc:
        raise StackError(f"{what} {path} {exc}: {fix}") from None
    except OSError as exc:
        raise StackError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, without recursion."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, d = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            if d > MAX_JSON_DEPTH:
                return d
            todo.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_json(path: Path, fix: str) -> Any:
    """Decode a JSON file (regular, at most MAX_JSON_BYTES, nesting at most MAX_JSON_DEPTH)."""
    data = _read(path, MAX_JSON_BYTES, "file", f"{fix} (a stack.json is a small regular file)")
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StackError(f"{path} is not UTF-8 text (byte {exc.start}): {fix}") from None
    except json.JSONDecodeError as exc:
        raise StackError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): {fix}"
        ) from None
    except RecursionError:
        raise StackError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels: {fix}") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise StackError(f"{path} is not valid JSON ({str(exc)[:80]}): {fix}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise StackError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels: {fix}")
    return value


# ---------------------------------------------------------------------- image headers
@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header declares: size in pixels and the decoded sample type.

    ``dtype`` is ``"uint8"``, ``"uint16"``, ``"float32"`` or None when the header does not say
    unambiguously (then only the decoded frame is compared).
    """

    format: str
    width: int
    height: int
    dtype: str | None


def _png(data: bytes) -> ImageHeader | None:
    if len(data) < 26 or data[12:16] != b"IHDR":
        return None
    width, height, depth = struct.unpack(">IIB", data[16:25])
    return ImageHeader("PNG", width, height, "uint16" if depth == 16 else "uint8")


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """``(marker, position)`` of every marker of a JPEG's header, in order, up to and including
    the first scan (SOS, 0xDA) or the end of image (0xD9); the walk stops early (without them)
    at a byte that is not a marker or a segment running past the data. Copies nothing."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        yield marker, pos
        if marker in (0xD9, 0xDA):
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            return
        pos += 2 + length


def _jpeg(data: bytes) -> ImageHeader | None:
    for marker, pos in jpeg_segments(data):
        if marker in _SOF:
            if pos + 9 > len(data):
                return None
            precision, height, width = struct.unpack(">BHH", data[pos + 4 : pos + 9])
            return ImageHeader("JPEG", width, height, "uint8" if precision == 8 else None)
        if marker in (0xD9, 0xDA):  # end of image or scan before any frame header
            return None
    return None


def _tiff(data: bytes) -> ImageHeader | None:
    end = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack(end + "H", data[2:4])
    big = magic == 43
    try:
        if big:
            (ifd,) = struct.unpack(end + "Q", data[8:16])
            (count,) = struct.unpack(end + "Q", data[ifd : ifd + 8])
            first, size = ifd + 8, 20
        else:
            (ifd,) = struct.unpack(end + "I", data[4:8])
            (count,) = struct.unpack(end + "H", data[ifd : ifd + 2])
            first, size = ifd + 2, 12
        tags: dict[int, int] = {}
        for k in range(min(count, 4096)):
            e = first + k * size
            tag, typ = struct.unpack(end + "HH", data[e : e + 4])
            (n,) = struct.unpack(end + ("Q" if big else "I"), data[e + 4 : e + (12 if big else 8)])
            voff = e + (12 if big else 8)
            if typ == 3 and n * 2 > (8 if big else 4):  # the values are elsewhere: take the first
                (voff,) = struct.unpack(end + ("Q" if big else "I"), data[voff : voff + (8 if big else 4)])
            if typ == 3:
                (value,) = struct.unpack(end + "H", data[voff : voff + 2])
            elif typ == 4:
                (value,) = struct.unpack(end + "I", data[voff : voff + 4])
            elif typ == 16:
                (value,) = struct.unpack(end + "Q", data[voff : voff + 8])
            else:
                continue
            tags[tag] = value
    except struct.error:
        return None
    if 256 not in tags or 257 not in tags:
        return None
    bits, fmt = tags.get(258, 1), tags.get(339, 1)
    dtype = {(8, 1): "uint8", (16, 1): "uint16", (32, 3): "float32"}.get((bits, fmt))
    return ImageHeader("TIFF", tags[256], tags[257], dtype)


def _bmp(data: bytes) -> ImageHeader | None:
    if len(data) < 26:
        return None
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return ImageHeader("BMP", abs(width), abs(height), "uint8")


def _pnm(data: bytes) -> ImageHeader | None:
    kind = data[1:2]
    tokens: list[int] = []
    want = 2 if kind in (b"1", b"4") else 3
    text = data[2:4096].split(b"\n")
    for line in text:
        for tok in line.split(b"#")[0].split():
            if not tok.isdigit():
                return None
            tokens.append(int(tok))
        if len(tokens) >= want:
            break
    if len(tokens) < want:
        return None
    maxval = tokens[2] if want == 3 else 1
    return ImageHeader("PNM", tokens[0], tokens[1], "uint16" if maxval > 255 else "uint8")


def _webp(data: bytes) -> ImageHeader | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    elif chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        width, height = width & 0x3FFF, height & 0x3FFF
    else:
        return None
    return ImageHeader("WebP", width, height, "uint8")


def image_header(data: bytes) -> ImageHeader | None:
    """The header of an image file's bytes, or None when it is no format focuscam reads."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _png(data)
        if data[:2] == b"\xff\xd8":
            return _jpeg(data)
        if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return _tiff(data)
        if data[:2] == b"BM":
            return _bmp(data)
        if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
            return _pnm(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _quiet_decode(data: bytes) -> np.ndarray | None:
    """cv2.imdecode(IMREAD_UNCHANGED) without OpenCV's own log lines on a corrupt file (the caller
    reports it in one line); None when it cannot be decoded."""
    import cv2

    log = getattr(cv2, "utils", None) and getattr(cv2.utils, "logging", None)
    level = log.getLogLevel() if log else None
    if log:
        log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    finally:
        if log:
            log.setLogLevel(level)


def read_frame(
    path: Path, root: Path | None, first: ImageHeader | None
) -> tuple[np.ndarray, ImageHeader, bytes]:
    """Read and decode one frame file safely; return the pixels (as cv2 IMREAD_UNCHANGED), the
    header and the file's bytes (a replay sends a JPEG file's own bytes on to a live view).

    Parameters
    ----------
    path : Path
        The frame file.
    root : Path or None
        The stack folder the file must resolve inside (None: no containment check).
    first : ImageHeader or None
        Frame 0's header: a frame of another size or sample type is refused before decoding.
    """
    if root is not None:
        path = inside(root, path, "frame file")
    fix = "restore it or remove its entry from stack.json"
    data = _read(path, MAX_FRAME_BYTES, "frame file", fix)
    head = image_header(data)
    if head is None:
        raise StackError(
            f"frame file {path} is not a readable image (empty, corrupt or not PNG, JPEG, TIFF, BMP, "
            "PNM or WebP): replace it with a valid PNG, JPEG or TIFF"
        )
    if first is not None and (
        (head.width, head.height) != (first.width, first.height)
        or (head.dtype is not None and first.dtype is not None and head.dtype != first.dtype)
    ):
        raise StackError(
            f"frame file {path} has shape {head.height} x {head.width} {head.dtype or ''} but frame 0 "
            f"has {first.height} x {first.width} {first.dtype or ''} (read from their headers, not "
            "decoded): every frame of a stack must have the same size, channels and dtype"
        )
    if head.width <= 0 or head.height <= 0 or head.width * head.height > MAX_PIXELS:
        raise StackError(
            f"frame file {path}: its {head.format} header declares {head.width} x {head.height} pixels, "
            f"outside 1..{MAX_PIXELS} pixels: not decoded; replace it with a real frame"
        )
    img = _quiet_decode(data)
    if img is None or img.shape[:2] != (head.height, head.width):
        raise StackError(
            f"frame file {path} is not a readable image (corrupt or truncated {head.format}): "
            "replace it with a valid PNG, JPEG or TIFF"
        )
    return img, head, data
