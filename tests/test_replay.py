"""ReplaySource: stacks replayed in order, at recorded times or a given fps, optionally looping."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import shared_stack

from focuscam.errors import InputError, SourceError
from focuscam.sources import ReplaySource, StreamEnded
from focuscam.stacks import Stack, StackWriter, load_stack


def small_stack(n=6, kind="z-sweep", z_unit="um"):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (24, 32), dtype=np.uint8) for _ in range(n)]
    return Stack.from_frames(frames, z=[10.0 * i for i in range(n)], z_unit=z_unit, kind=kind)


def test_frames_in_order_then_stream_ended():
    stack = small_stack()
    with ReplaySource(stack) as src:
        frames = list(src)
        assert src.fps is None and src.dropped == 0 and src.size == (32, 24)
        with pytest.raises(StreamEnded, match="ended after 6 frames"):
            src.read()
    assert [f.seq for f in frames] == list(range(6))
    assert [f.meta["index"] for f in frames] == list(range(6))
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(f.pixels, stack.image(i))
    assert [f.z for f in frames] == [10.0 * i for i in range(6)]
    ts = [f.t for f in frames]
    assert ts == sorted(ts)
    assert all(f.meta["t_start"] == f.t for f in frames)


@pytest.mark.shared
def test_z_sweep_in_mm_gives_z_in_um():
    stack = load_stack(shared_stack("fpd_webcam_rep1"))
    assert stack.z_unit == "mm"
    with ReplaySource(stack) as src:
        frame = src.read()
    assert frame.z == pytest.approx(stack.z[0] * 1000.0)
    assert frame.meta["stack_z"] == stack.z[0] and frame.meta["z_unit"] == "mm"


def test_sequence_and_step_units_have_no_z_in_um():
    with ReplaySource(small_stack(kind="sequence")) as src:
        assert src.read().z is None
    with ReplaySource(small_stack(z_unit="step")) as src:
        frame = src.read()
        assert frame.z is None and frame.meta["stack_z"] == 0.0


def test_loop_starts_again_and_keeps_counting():
    stack = small_stack(4)
    with ReplaySource(stack, loop=True) as src:
        frames = [src.read() for _ in range(10)]
    assert [f.seq for f in frames] == list(range(10))
    assert [f.meta["index"] for f in frames] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    np.testing.assert_array_equal(frames[4].pixels, frames[0].pixels)


def test_given_fps_paces_frames():
    fps = 40.0
    with ReplaySource(small_stack(8), fps=fps) as src:
        frames = list(src)
        assert src.fps == fps
    gaps = np.diff([f.t for f in frames])
    # never earlier than the schedule (a late frame shifts the schedule, it never bursts)
    assert gaps.min() >= 1 / fps - 2e-3
    assert frames[-1].t - frames[0].t >= 7 / fps - 2e-3


def test_recorded_times_pace_frames(tmp_path):
    offsets = [0.0, 0.03, 0.09, 0.10, 0.16]
    with StackWriter(tmp_path / "s", name="s") as w:
        for k, dt in enumerate(offsets):
            w.append(np.full((8, 8), k, np.uint8), t=100.0 + dt)
    with ReplaySource(tmp_path / "s") as src:
        frames = list(src)
        assert src.fps == pytest.approx(4 / 0.16)
    assert [int(f.pixels[0, 0]) for f in frames] == list(range(5))
    assert [f.meta["stack_t"] for f in frames] == pytest.approx([100.0 + dt for dt in offsets])
    gaps = np.diff([f.t for f in frames])
    assert np.all(gaps >= np.diff(offsets) - 2e-3)


def test_timeout_shorter_than_the_next_frame_is_a_source_error():
    with ReplaySource(small_stack(3), fps=2.0) as src:
        src.read()
        with pytest.raises(SourceError, match="due in"):
            src.read(timeout=0.05)


def test_fresh_frame_after_now_is_delivered_after_now():
    with ReplaySource(small_stack(5), fps=50.0) as src:
        src.read()
        t = time.monotonic()
        frame = src.fresh_frame(after=t, timeout=2)
        assert frame.meta["t_start"] > t


def test_bad_parameters_and_closed_source(tmp_path):
    for bad in (0, -1, math.nan, True, "10"):
        with pytest.raises(InputError, match="fps"):
            ReplaySource(small_stack(), fps=bad)
    with pytest.raises(InputError):
        ReplaySource(tmp_path / "missing")
    src = ReplaySource(small_stack())
    src.close()
    with pytest.raises(SourceError, match="closed"):
        src.read()
    with pytest.raises(InputError, match="after"):
        ReplaySource(small_stack()).fresh_frame(after=float("nan"))
