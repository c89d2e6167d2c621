"""CameraSource on real video files written with cv2.VideoWriter (the same code path as a camera)."""

from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import shared_stack

from focuscam.errors import InputError, SourceError
from focuscam.sources import CameraSource, SourceWarning, StreamEnded
from focuscam.stacks import load_stack

pytestmark = pytest.mark.shared


def write_video(path, frames, fps=30.0, fourcc="MJPG"):
    """Write BGR frames to a video file; returns the path."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for img in frames:
        writer.write(img)
    writer.release()
    return path


def stack_frames(n=20, size=None):
    stack = load_stack(shared_stack("fpd_webcam_rep1"))
    frames = [stack.image(i) for i in range(n)]
    if size is not None:
        frames = [cv2.resize(f, size) for f in frames]
    return frames


def decode_all(path):
    """Oracle: every frame of the file through a plain cv2.VideoCapture loop."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(img)
    cap.release()
    return out


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi", stack_frames(20))


def grab_threads():
    return [t for t in threading.enumerate() if t.name.startswith("focuscam-grab")]


def test_file_frames_match_plain_decode_in_order(video):
    expected = decode_all(video)
    assert len(expected) == 20
    with CameraSource(video) as src:
        frames = list(src)
        assert src.dropped == 0
        assert src.size == (400, 400)
        assert src.fps == pytest.approx(30.0)
    assert [f.seq for f in frames] == list(range(20))
    for f, e in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(f.pixels, e)
    ts = [f.t for f in frames]
    assert ts == sorted(ts)
    assert all(f.meta["t_start"] <= f.t for f in frames)
    assert all(f.z is None for f in frames)


def test_file_end_is_stream_ended_with_count(video):
    with CameraSource(video) as src:
        for _ in range(20):
            src.read()
        with pytest.raises(StreamEnded, match=r"ended after 20 frames") as info:
            src.read()
        assert info.value.frames == 20
        assert isinstance(info.value, SourceError)
        assert not src.alive


def _wait_until(condition, bound_s: float = 60.0) -> None:
    """Wait for ``condition()`` (an event); ``bound_s`` only keeps a broken run from hanging."""
    give_up = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < give_up, "the condition never came true"
        time.sleep(0.005)


def _check_fresh(src, rounds, rng):
    for _ in range(rounds):
        time.sleep(float(rng.uniform(0.05, 0.2)))  # a slow consumer: the buffer fills with old frames
        t = time.monotonic()
        frame = src.fresh_frame(after=t, timeout=60)
        assert frame.meta["t_start"] > t
        assert frame.t > t


def test_fresh_frame_never_returns_a_frame_buffered_before_t_live(tmp_path):
    path = write_video(tmp_path / "long.avi", stack_frames(120), fps=60)
    rng = np.random.default_rng(1)
    with CameraSource(path, realtime=True, buffer=3) as src:
        time.sleep(0.2)
        _check_fresh(src, 5, rng)
        assert src.dropped > 0  # the slow consumer made the grab thread drop old frames


def test_fresh_frame_skips_frames_decoded_before_t_file_mode(tmp_path):
    # drop=False: the buffer is full of frames decoded before t; fresh_frame must skip them all
    path = write_video(tmp_path / "long.avi", stack_frames(120), fps=60)
    with CameraSource(path, buffer=4) as src:
        _wait_until(lambda: src.frames >= 4)  # the buffer is full (an event, not a time)
        t = time.monotonic()
        frame = src.fresh_frame(after=t, timeout=60)
        assert frame.meta["t_start"] > t
        assert frame.seq >= 4  # the 4 buffered frames were skipped
        assert src.dropped == 0


def test_buffer_keeps_only_the_newest_frames(tmp_path):
    path = write_video(tmp_path / "long.avi", stack_frames(120), fps=60)
    with CameraSource(path, realtime=True, buffer=2) as src:
        first = src.read()
        _wait_until(lambda: src.frames >= first.seq + 1 + 6)  # 6 more come; only the newest 2 kept
        frame = src.read()
        assert frame.seq > first.seq + 2
        assert src.dropped >= frame.seq - first.seq - 2
        captured = src.frames
        # everything captured was delivered (2), is buffered (<= 2), in flight (<= 1) or dropped
        assert src.dropped >= captured - 2 - 2 - 1


def test_property_mismatch_is_a_warning_with_both_values(video):
    with pytest.warns(SourceWarning, match=r"width=640.*reads back 400"):
        src = CameraSource(video, width=640)
    try:
        assert src.get_property("width") == 400
    finally:
        src.close()


def test_set_property_reads_back_and_validates(video):
    with CameraSource(video) as src:
        with pytest.raises(InputError, match="unknown"):
            src.set_property("zoom", 2)
        with pytest.raises(InputError, match="finite"):
            src.set_property("focus", float("nan"))


def test_camera_index_that_does_not_open_is_one_line_source_error():
    before = len(grab_threads())
    with pytest.raises(SourceError, match=r"camera 97 did not open") as info:
        CameraSource(97)
    assert "\n" not in str(info.value)
    assert len(grab_threads()) == before


def test_missing_file_and_bad_parameters_are_input_errors(tmp_path, video):
    with pytest.raises(InputError, match="does not exist"):
        CameraSource(tmp_path / "nope.avi")
    with pytest.raises(InputError, match="buffer"):
        CameraSource(video, buffer=0)
    with pytest.raises(InputError, match="index"):
        CameraSource(-1)
    with pytest.raises(InputError, match="reconnect"):
        CameraSource(video, reconnect=-1)


def test_not_a_video_file_does_not_open(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="is not a video OpenCV can decode") as info:  # bad input
        CameraSource(bad)
    assert not isinstance(info.value, SourceError)
    assert "/dev/video" not in str(info.value)  # advice for a camera, not for a file


def test_close_stops_thread_and_is_idempotent(video):
    src = CameraSource(video)
    src.read()
    assert src.alive
    src.close()
    assert not src.alive
    src.close()
    with pytest.raises(SourceError, match="closed"):
        src.read()


def test_close_stops_thread_after_an_error(video):
    src = CameraSource(video, buffer=1)
    with pytest.raises(StreamEnded):
        while True:
            src.read()
    src.close()
    assert not src.alive


def test_read_timeout_is_a_source_error(tmp_path):
    path = write_video(tmp_path / "slow.avi", stack_frames(5), fps=1)
    with CameraSource(path, realtime=True) as src:
        src.read()
        with pytest.raises(SourceError, match=r"within 0\.1 s"):
            src.read(timeout=0.1)


def test_live_source_reconnects_then_gives_up_with_clear_error(tmp_path):
    path = write_video(tmp_path / "cam.avi", stack_frames(10))
    src = CameraSource(path, live=True, reconnect=2, backoff=0.02)
    try:
        frames = [src.read() for _ in range(15)]  # past the end: the source reopened the "device"
        assert [f.seq for f in frames] == list(range(15))
        assert src.reconnects >= 1
        os.unlink(path)  # the device is gone for good
        with pytest.raises(SourceError, match=r"did not come back after 2 reconnect attempts") as info:
            while True:
                src.read()
        assert "\n" not in str(info.value)
        assert not src.alive
    finally:
        src.close()
    assert not src.alive


def test_frame_size_change_mid_stream_is_a_clear_error(tmp_path):
    path = write_video(tmp_path / "cam.avi", stack_frames(8))
    src = CameraSource(path, live=True, reconnect=2, backoff=0.02)
    try:
        got = [src.read()]
        # the "camera" comes back with another resolution
        other = write_video(tmp_path / "other.avi", stack_frames(8, size=(320, 240)))
        os.replace(other, path)
        with pytest.raises(SourceError, match=r"changed its size mid-stream") as info:
            while True:
                got.append(src.read())
        assert "(240, 320, 3)" in str(info.value)
        assert len(got) == 8  # every frame of the first size was delivered before the error
        assert not src.alive
    finally:
        src.close()


def test_a_property_warning_raised_as_error_releases_the_device(video):
    import warnings

    before = len(grab_threads())
    with warnings.catch_warnings():
        warnings.simplefilter("error", SourceWarning)
        with pytest.raises(SourceWarning, match="width=640"):
            CameraSource(video, width=640)
    assert len(grab_threads()) == before


def test_close_while_a_consumer_waits_wakes_it_with_an_error(tmp_path):
    path = write_video(tmp_path / "slow.avi", stack_frames(3), fps=0.5)  # a frame every 2 s
    src = CameraSource(path, realtime=True, timeout=30)
    src.read()
    errors = []

    def consumer():
        try:
            src.read()
        except SourceError as exc:
            errors.append(str(exc))

    th = threading.Thread(target=consumer)
    th.start()
    time.sleep(0.2)
    src.close()
    th.join(10)
    assert not th.is_alive()
    assert errors and "closed" in errors[0]
    assert not src.alive


def test_many_open_close_cycles_leave_no_thread(video):
    before = len(grab_threads())
    for k in range(15):
        with CameraSource(video, buffer=1) as src:
            for _ in range(k % 4):
                src.read()
    assert len(grab_threads()) == before
