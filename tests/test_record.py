"""The recorder: source -> StackWriter, limits, faults, and what is left on disk."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import shared_stack

from focuscam.errors import InputError, SourceError, StackError
from focuscam.recorder import record
from focuscam.sources import ReplaySource, open_source
from focuscam.stacks import Stack, load_stack


def write_video(path, frames, fps=25.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for img in frames:
        writer.write(img)
    writer.release()
    return path


def decode_all(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            return out
        out.append(img)


def random_frames(n, shape=(40, 56, 3), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    hi = np.iinfo(dtype).max
    return [rng.integers(0, hi, shape, dtype=dtype, endpoint=True) for _ in range(n)]


@pytest.mark.shared
def test_16bit_frames_are_kept_losslessly_with_t_and_z(tmp_path):
    src_stack = load_stack(shared_stack("dfnn_mitochondria"))
    with ReplaySource(src_stack) as src:
        result = record(src, tmp_path / "rec", frames=6)
    assert (result.frames, result.reason) == (6, "frames")
    rec = load_stack(tmp_path / "rec")
    assert rec.kind == "sequence" and len(rec) == 6
    for i in range(6):
        img = rec.image(i)
        assert img.dtype == np.uint16
        np.testing.assert_array_equal(img, src_stack.image(i))
    assert rec.t is not None and np.all(np.diff(rec.t) >= 0)
    assert rec.z_unit == "um"
    np.testing.assert_allclose(rec.z, src_stack.z[:6])  # z_unit um already


def test_a_video_is_recorded_whole_without_a_limit(tmp_path):
    path = write_video(tmp_path / "clip.avi", random_frames(12))
    result = record(f"video:{path}", tmp_path / "rec")
    assert (result.frames, result.reason) == (12, "ended")
    rec = load_stack(tmp_path / "rec")
    expected = decode_all(path)
    assert len(rec) == len(expected) == 12
    for i, e in enumerate(expected):
        np.testing.assert_array_equal(rec.image(i), e)
    meta = json.loads((tmp_path / "rec" / "stack.json").read_text())
    assert meta["recorded_from"].startswith("video ")
    assert all(f["z"] is None for f in meta["frames"])
    assert meta["z_unit"] is None


def test_a_video_that_ends_before_the_frames_asked_leaves_a_valid_stack(tmp_path):
    path = write_video(tmp_path / "clip.avi", random_frames(7))
    with pytest.raises(
        SourceError, match=r"ended after 7 frames \(before the 20 frames asked\); 7 frames saved"
    ):
        record(f"video:{path}", tmp_path / "rec", frames=20)
    assert len(load_stack(tmp_path / "rec")) == 7


def test_seconds_limit_stops_the_recording(tmp_path):
    stack = Stack.from_frames(random_frames(5, shape=(8, 8)), kind="sequence")
    with ReplaySource(stack, fps=50, loop=True) as src:
        result = record(src, tmp_path / "rec", seconds=0.3)
    assert result.reason == "seconds"
    rec = load_stack(tmp_path / "rec")
    assert len(rec) == result.frames >= 1
    assert rec.t[-1] - rec.t[0] < 0.3


def test_frame_limit_with_a_looping_replay(tmp_path):
    stack = Stack.from_frames(random_frames(3, shape=(8, 8)), kind="sequence")
    with ReplaySource(stack, loop=True) as src:
        result = record(src, tmp_path / "rec", frames=8, flush_every=3)
    rec = load_stack(tmp_path / "rec")
    assert len(rec) == result.frames == 8
    np.testing.assert_array_equal(rec.image(6), stack.image(0))


def test_existing_out_dir_with_content_is_refused_untouched(tmp_path):
    out = tmp_path / "rec"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    stack = Stack.from_frames(random_frames(2, shape=(8, 8)), kind="sequence")
    with pytest.raises(StackError, match="not empty: choose a new folder"):
        record(ReplaySource(stack), out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_a_source_that_fails_to_open_leaves_nothing(tmp_path):
    with pytest.raises(SourceError, match=r"camera 97 did not open.*no frame was saved"):
        record("camera:97", tmp_path / "rec")
    assert not (tmp_path / "rec").exists()
    with pytest.raises(InputError, match="unknown kind"):
        record("bogus:1", tmp_path / "rec")
    assert not (tmp_path / "rec").exists()


def test_a_frame_of_another_size_stops_with_the_frames_so_far_saved(tmp_path):
    # a stack whose frame 3 has another size (edited by hand): StackError, frames 0-2 kept
    good = tmp_path / "src"
    frames = random_frames(5, shape=(16, 16))
    record(ReplaySource(Stack.from_frames(frames, kind="sequence")), good)
    cv2.imwrite(str(good / "frames" / "000003.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(StackError, match="same size"):
        record(f"replay:{good}", tmp_path / "rec")
    rec = load_stack(tmp_path / "rec")
    assert len(rec) == 3


def test_on_frame_is_called_per_saved_frame_and_its_error_keeps_the_stack(tmp_path):
    stack = Stack.from_frames(random_frames(4, shape=(8, 8)), kind="sequence")
    seen = []

    def on_frame(count, frame):
        seen.append((count, frame.seq))
        if count == 3:
            raise RuntimeError("consumer broke")

    with pytest.raises(RuntimeError, match="consumer broke"):
        record(ReplaySource(stack), tmp_path / "rec", on_frame=on_frame)
    assert seen == [(1, 0), (2, 1), (3, 2)]
    assert len(load_stack(tmp_path / "rec")) == 3


@pytest.mark.parametrize(("kw", "match"), [({"frames": 0}, "frames"), ({"seconds": -1}, "seconds")])
def test_bad_limits(tmp_path, kw, match):
    stack = Stack.from_frames(random_frames(2, shape=(8, 8)), kind="sequence")
    with pytest.raises(InputError, match=match):
        record(ReplaySource(stack), tmp_path / "rec", **kw)
    assert not (tmp_path / "rec").exists()


def test_the_source_is_left_open_when_given_open(tmp_path):
    path = write_video(tmp_path / "clip.avi", random_frames(6))
    with open_source(path) as src:
        record(src, tmp_path / "rec", frames=2)
        assert src.read().seq == 2


def test_frames_a_live_source_dropped_while_writing_are_reported(tmp_path):
    import time

    from focuscam.sources import CameraSource

    path = write_video(tmp_path / "clip.avi", random_frames(40), fps=100)
    with CameraSource(path, realtime=True, buffer=1) as src:
        result = record(src, tmp_path / "rec", on_frame=lambda count, frame: time.sleep(0.05))
        captured = src.frames
    assert result.reason == "ended"
    assert result.dropped > 0
    # every captured frame was recorded or dropped; the source may also have dropped frames
    # before record() started (a loaded machine is slow to get there): not the recording's
    assert result.frames + result.dropped <= captured == 40
    assert result.frames + src.dropped == captured
    rec = load_stack(tmp_path / "rec")
    assert len(rec) == result.frames


def test_a_camera_dying_mid_recording_says_so_and_keeps_every_frame(tmp_path):
    from focuscam.sources import CameraSource

    frames = random_frames(6)
    path = write_video(tmp_path / "cam.avi", frames)
    expected = decode_all(path)
    with CameraSource(path, live=True, reconnect=1, backoff=0.01) as src:
        path.unlink()  # unplugged: after its 6 frames the "camera" never comes back
        with pytest.raises(SourceError, match=r"did not come back.*; 6 frames saved in") as info:
            record(src, tmp_path / "rec", frames=100)
        assert "\n" not in str(info.value)
    rec = load_stack(tmp_path / "rec")
    assert len(rec) == 6
    for i in range(6):
        np.testing.assert_array_equal(rec.image(i), expected[i])
