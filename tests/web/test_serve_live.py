"""The live view of ``focuscam serve`` over real HTTP: a replayed JPEG file is sent on as it is (no
encoding), a frame without its own JPEG (EXIF, PNG) is encoded, and a view much narrower than the
frame gets it scaled down."""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pytest

from focuscam.sources.replay import ReplaySource
from focuscam.web.stream import passes, view_width

from .helpers import mjpeg_parts

SIZE = (320, 240)
EXIF_AT = 2  # the frame whose file has an EXIF block (a browser would apply its orientation)
# APP1 "Exif": a little-endian TIFF header and an empty first IFD
_EXIF = b"\xff\xe1" + struct.pack(">H", 22) + b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00" + bytes(6)


def _jpeg_stack(folder, n: int = 6):
    """A sequence of ``n`` JPEG files of SIZE, each different; frame EXIF_AT carries an EXIF block."""
    (folder / "frames").mkdir(parents=True)
    yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    entries = []
    for k in range(n):
        img = np.dstack([(xx * (k + 1) + yy) % 256, (yy * 2 + k * 40) % 256, (xx + yy * k) % 256])
        ok, buf = cv2.imencode(".jpg", img.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        data = buf.tobytes()
        if k == EXIF_AT:
            data = data[:2] + _EXIF + data[2:]
        (folder / f"frames/{k:03d}.jpg").write_bytes(data)
        entries.append({"file": f"frames/{k:03d}.jpg", "z": None})
    meta = {"format": "focuscam-stack/1", "name": "jpegs", "kind": "sequence", "z_unit": None,
            "frames": entries, "truth": None}  # fmt: skip
    (folder / "stack.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    return _jpeg_stack(tmp_path_factory.mktemp("jpegs") / "stack")


def _file(stack, index: int) -> bytes:
    return (stack / f"frames/{index:03d}.jpg").read_bytes()


def test_a_replay_gives_its_jpeg_files_own_bytes_only_when_asked(stack, tmp_path):
    from focuscam.stacks import save_stack

    with ReplaySource(stack) as src:
        assert "jpeg" not in src.read().meta  # off by default: a monitor needs no bytes
        src.keep_jpeg = True
        for frame in src:
            i = frame.meta["index"]
            if i == EXIF_AT:
                assert "jpeg" not in frame.meta
            else:
                assert frame.meta["jpeg"] == _file(stack, i)
                decoded = cv2.imdecode(np.frombuffer(frame.meta["jpeg"], np.uint8), cv2.IMREAD_UNCHANGED)
                assert np.array_equal(decoded, frame.pixels)  # the very pixels that are scored
    png = save_stack(tmp_path / "png", [np.full((SIZE[1], SIZE[0]), 9, np.uint8)] * 2)
    with ReplaySource(png) as src:
        src.keep_jpeg = True
        assert "jpeg" not in src.read().meta  # a PNG file is no JPEG to send on


def test_plain_jpeg_searches_the_header_segments_for_exif_not_the_scan(stack):
    from focuscam.sources.replay import plain_jpeg

    data = _file(stack, 0)
    shape = (SIZE[1], SIZE[0], 3)
    assert plain_jpeg(data, shape)
    assert not plain_jpeg(_file(stack, EXIF_AT), shape)  # APP1 Exif right after SOI
    sos = data.index(b"\xff\xda")
    assert not plain_jpeg(data[:sos] + _EXIF + data[sos:], shape)  # Exif after the frame header
    assert plain_jpeg(data + b"Exif\x00\x00", shape)  # bytes after the scan are no EXIF block
    assert not plain_jpeg(data[:sos], shape)  # no scan: the markers end before it
    assert not plain_jpeg(data, (SIZE[1] // 2, SIZE[0] // 2, 3))  # another size


@pytest.fixture(scope="module")
def server(stack):
    from focuscam.web.server import WebServer

    web = WebServer(ReplaySource(stack, fps=30, loop=True))
    web.start()
    yield web
    web.stop()


def _index(head: dict) -> int:
    return int(head["x-frame-seq"]) % 6


def test_the_live_view_sends_a_replayed_jpeg_on_as_it_is(server, stack):
    assert not server.scope.hub.source.keep_jpeg  # nobody watches: no file is read twice
    # the replay reads its files' bytes once somebody watches: the frames read before that (the
    # newest at most, and the one being read) are encoded; every later one is its file
    parts = mjpeg_parts(server.url, 16)  # more than two laps of the 6 frames
    later = parts[2:]
    assert EXIF_AT in {_index(h) for h, _ in later} and len({_index(h) for h, _ in later}) > 2
    for k, (head, jpeg) in enumerate(parts):
        i = _index(head)
        if k >= 2 and i != EXIF_AT:
            assert jpeg == _file(stack, i)
        elif jpeg != _file(stack, i):  # encoded here: not the file, but the frame
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape[:2] == (SIZE[1], SIZE[0])
        if k >= 2 and i == EXIF_AT:
            assert jpeg != _file(stack, i)
    assert server.jpeg.passed >= len(later) - sum(_index(h) == EXIF_AT for h, _ in later)
    assert server.jpeg.encoded >= 1


@pytest.mark.parametrize("asked", [64, 100, 160, 300])
def test_a_much_narrower_view_gets_the_frame_scaled_down(server, stack, asked):
    width = view_width(asked)
    for head, jpeg in mjpeg_parts(server.url, 6, query=f"?width={asked}")[2:]:  # once bytes are read
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        i = _index(head)
        if passes(SIZE[0], width) and i != EXIF_AT:
            assert jpeg == _file(stack, i)  # the browser scales it: cheaper than a new encoding
        else:
            assert image.shape[1] == min(width, SIZE[0]) and jpeg != _file(stack, i)
