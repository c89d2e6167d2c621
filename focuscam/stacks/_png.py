"""PNG frames without OpenCV: the common layouts decoded by zlib and one numba kernel.

Importing OpenCV costs a short command such as ``focuscam select`` some 0.06-0.1 s of CPU, a
tenth of its run, and every command that reads a stack also scores it, so numba is loaded
anyway. :func:`decode_png` decodes the layouts focus stacks use (not interlaced, 8 or 16 bits,
gray, RGB or RGBA, no transparency chunk, up to :data:`MAX_PIXELS`) exactly as
``cv2.imdecode(IMREAD_UNCHANGED)`` does: BGR(A) channel order, 16-bit samples in native byte
order. Anything else, and any file that is not perfectly well formed (a CRC mismatch, a short or
overlong zlib stream, an unknown filter type, an unknown chunk that may change the pixels),
returns None, and the caller decodes it with OpenCV, whose verdict (pixels or "corrupt") is
then the one reported, as before.
"""

from __future__ import annotations

import struct
import sys
import zlib

import numpy as np

__all__ = ["decode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Colour type -> samples per pixel (0 gray, 2 RGB, 6 RGBA). Palette (3), gray + alpha (4) and
#: bit depths below 8 go to OpenCV.
_CHANNELS = {0: 1, 2: 3, 6: 4}
#: Ancillary chunks that never change how OpenCV decodes the pixels (text, time, physical pixel
#: size). Any other one (gAMA, sRGB, iCCP, sBIT, tRNS, bKGD, APNG's acTL ...) goes to OpenCV.
_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"pHYs"}
#: Largest frame decoded here (pixels). Inflating is most of the work and Python's zlib is 2-10 %
#: slower than OpenCV's on 1080p frames, where the import is paid back within a few frames.
MAX_PIXELS = 1 << 20


def _chunks(data: bytes):
    """``(type, body)`` of every chunk after the signature; None on a malformed file."""
    pos, end, out = 8, len(data), []
    while pos + 12 <= end:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        body = data[pos + 8 : body_end]
        (crc,) = struct.unpack(">I", data[body_end : body_end + 4])
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            return None
        out.append((kind, body))
        pos = body_end + 4
        if kind == b"IEND":
            return out
    return None


def decode_png(data: bytes) -> np.ndarray | None:
    """The pixels of a PNG file's bytes as ``cv2.imdecode(IMREAD_UNCHANGED)`` returns them, or
    None when the file is not one of the layouts decoded here (see the module docstring)."""
    if data[:8] != _SIGNATURE:
        return None
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        return None
    width, height, depth, colour, method, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    nch = _CHANNELS.get(colour)
    if nch is None or depth not in (8, 16) or (method, filtering, interlace) != (0, 0, 0):
        return None
    if width == 0 or height == 0 or width * height > MAX_PIXELS:
        return None
    idat = []
    for kind, body in chunks[1:-1]:
        if kind == b"IDAT":
            idat.append(body)
        elif kind not in _METADATA:
            return None
    bpp = nch * depth // 8
    stride = width * bpp
    want = height * (stride + 1)
    try:
        inflate = zlib.decompressobj()
        raw = inflate.decompress(b"".join(idat), want + 1)
        if len(raw) != want or not inflate.eof or inflate.unconsumed_tail:
            return None
    except zlib.error:
        return None
    from ._png_kernel import swap_rb, unfilter

    out = np.empty((height, stride), np.uint8)
    if not unfilter(np.frombuffer(raw, np.uint8), height, stride, bpp, out):
        return None
    if depth == 16:
        out = out.view(np.uint16)
        if sys.byteorder == "little":
            out.byteswap(inplace=True)  # PNG's samples are big-endian; OpenCV's native
    if nch == 1:
        return out
    img = out.reshape(height, width, nch)
    swap_rb(img)  # RGB(A) -> BGR(A), as OpenCV
    return img
