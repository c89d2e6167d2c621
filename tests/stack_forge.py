"""Hand-made hostile stack files for the safety and fuzz tests: PNGs built chunk by chunk."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, depth: int = 8, color: int = 0) -> bytes:
    """A PNG signature and IHDR declaring ``width`` x ``height`` (no pixel data follows)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


def blank_png(width: int, height: int) -> bytes:
    """A real, complete 8-bit gray PNG of zeros, made without holding or compressing it whole.

    The deflate stream is one independently compressed band of rows (a full flush makes it
    self-contained) repeated, a final empty block and the Adler-32 of all the rows.
    """
    rows = next(k for k in (100, 10, 1) if height % k == 0)
    band = bytes((width + 1) * rows)
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    block = comp.compress(band) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(height // rows):
        adler = zlib.adler32(band, adler)
    idat = b"\x78\x01" + block * (height // rows) + b"\x03\x00" + struct.pack(">I", adler)
    return png_header(width, height) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def write_stack(folder: Path, frames: list[np.ndarray] | None = None, meta: dict | None = None) -> Path:
    """A valid small stack (4 frames of 24 x 32 gray noise unless ``frames`` is given)."""
    rng = np.random.default_rng(0)
    frames = frames if frames is not None else [rng.integers(0, 256, (24, 32), np.uint8) for _ in range(4)]
    (folder / "frames").mkdir(parents=True)
    entries = []
    for k, img in enumerate(frames):
        name = f"frames/{k:06d}.png"
        ok, buf = cv2.imencode(".png", img)
        assert ok
        (folder / name).write_bytes(buf.tobytes())
        entries.append({"file": name, "z": float(k)})
    doc = {
        "format": "focuscam-stack/1",
        "name": folder.name,
        "kind": "z-sweep",
        "description": "",
        "z_unit": "um",
        "frames": entries,
        "truth": None,
    }
    doc.update(meta or {})
    (folder / "stack.json").write_text(json.dumps(doc))
    return folder
