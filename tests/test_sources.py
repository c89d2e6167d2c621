"""open_source specs and the FrameSource contract shared by every source."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from conftest import shared_stack

from focuscam.errors import InputError, SourceError
from focuscam.sources import CameraSource, FrameSource, ReplaySource, StreamEnded, open_source
from focuscam.sources.spec import SPEC_FORMS
from focuscam.types import Frame


def write_video(path, n=6, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    rng = np.random.default_rng(3)
    for _ in range(n):
        writer.write(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.mark.shared
@pytest.mark.parametrize("form", ["replay:{p}", "{p}", "{p}/stack.json"])
def test_replay_specs(form):
    path = shared_stack("scorpion_lapse")
    with open_source(form.format(p=path)) as src:
        assert isinstance(src, ReplaySource)
        assert src.read().pixels.shape == (486, 648, 3)


def test_video_specs(tmp_path):
    path = write_video(tmp_path / "clip.avi")
    for spec in (f"video:{path}", str(path), path):
        with open_source(spec) as src:
            assert isinstance(src, CameraSource)
            assert len(list(src)) == 6


def test_options_go_to_the_source_and_bad_ones_are_refused(tmp_path):
    path = write_video(tmp_path / "clip.avi")
    with open_source(f"video:{path}", buffer=1) as src:
        assert src.read().seq == 0
    with pytest.raises(InputError, match=r"loop do not apply to camera and video sources \(CameraSource\)"):
        open_source(f"video:{path}", loop=True)


@pytest.mark.parametrize("spec", ["camera:97", "97", 97])
def test_camera_that_does_not_open(spec):
    with pytest.raises(SourceError, match="camera 97 did not open"):
        open_source(spec)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("bogus:x", "unknown kind 'bogus'"),
        ("nothing/here.avi", "neither an existing file"),
        ("video:nothing.avi", "does not exist"),
        ("replay:no_stack_here", "does not exist"),
        ("camera:", "names no camera"),
        ("camera:webcam", "not an index"),
        ("", "empty"),
        (-1, ">= 0"),
        (None, "not a spec"),
    ],
)
def test_bad_specs_are_input_errors_listing_the_forms(spec, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=match) as info:
        open_source(spec)
    assert "\n" not in str(info.value)
    if match in ("unknown kind 'bogus'", "neither an existing file", "empty", "not a spec"):
        assert SPEC_FORMS in str(info.value)


def test_video_spec_on_a_folder_points_to_replay(tmp_path):
    with pytest.raises(InputError, match="replay:"):
        open_source(f"video:{tmp_path}")


class CountingSource(FrameSource):
    """A minimal source: frames whose capture begins when read() is called."""

    def __init__(self, n):
        self.n, self.i, self._closed = n, 0, False
        self.name = "counting"

    def read(self, timeout=None):
        if self.i >= self.n:
            raise StreamEnded(f"counting ended after {self.i} frames", self.i)
        import time

        t = time.monotonic()
        self.i += 1
        return Frame(np.zeros((2, 2), np.uint8), t, self.i - 1, meta={"t_start": t})

    def close(self):
        self._closed = True

    size = (2, 2)
    fps = None
    dropped = 0


def test_base_iterator_context_manager_and_fresh_frame():
    with CountingSource(5) as src:
        assert [f.seq for f in src] == [0, 1, 2, 3, 4]
    assert src.closed
    src = CountingSource(3)
    with pytest.raises(StreamEnded):
        src.fresh_frame(after=1e18)  # no frame ever begins that late: the stream ends first
    with pytest.raises(InputError, match="timeout"):
        CountingSource(1).fresh_frame(after=0.0, timeout=-1)


def test_no_thread_left_after_sources_close(tmp_path):
    path = write_video(tmp_path / "clip.avi")
    before = set(threading.enumerate())
    with open_source(path) as src:
        src.read()
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []
