"""Row bands shared with the helper thread (focuscam.measures._bands).

The shared sums must be the one-thread sums bit for bit, whatever the band count and ROI, and
the caller must never be held up by a helper that does not hand its band over: it computes the
band itself. The thresholds are lowered here so that small frames are shared too.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_measures_fast import CASES, _general  # the same cases as the short path's tests

from focuscam.measures import _bands, _fast, measure


@pytest.fixture
def small_bands(monkeypatch):
    """Share every region of 8 rows or more, in bands of ~64 bytes."""
    monkeypatch.setattr(_bands, "MIN_WORK", 1)
    monkeypatch.setattr(_bands, "BAND_WORK", 64)
    monkeypatch.delenv("FOCUSCAM_THREADS", raising=False)


@pytest.mark.parametrize(("name", "dtype", "ch"), CASES)
def test_shared_bands_equal_the_one_thread_score(small_bands, name, dtype, ch):
    rng = np.random.default_rng(11)
    top = np.iinfo(dtype).max
    for h, w in ((8, 5), (37, 91), (130, 64)):
        shape = (h, w, 3) if ch == 3 else (h, w)
        frame = rng.integers(0, top + 1, shape, dtype=dtype)
        for roi in (None, (w // 4, 1, max(w // 2, 1), h - 2), (0, h - 8, w, 8)):
            if roi is not None and roi[3] < 8:
                continue
            assert _bands.band_count(h if roi is None else roi[3], w * ch) >= 4
            assert _fast.try_compute(name, frame, roi, 1) == _general(name, frame, roi), (shape, roi)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    h=st.integers(8, 90),
    w=st.integers(1, 70),
    y=st.integers(0, 20),
    seed=st.integers(0, 2**31),
    bgr=st.booleans(),
)
def test_shared_lapv_equals_the_one_thread_score_property(h, w, y, seed, bgr):
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (h + y, w, 3) if bgr else (h + y, w), dtype=np.uint8)
    roi = (0, y, w, h)
    old = (_bands.MIN_WORK, _bands.BAND_WORK)
    _bands.MIN_WORK, _bands.BAND_WORK = 1, 16
    try:
        shared = _fast.try_compute("lapv", frame, roi, 1)
    finally:
        _bands.MIN_WORK, _bands.BAND_WORK = old
    assert shared == _general("lapv", frame, roi)


def test_a_held_up_helper_never_holds_up_the_caller():
    """The helper blocks inside its band until the caller has returned: the caller computes
    that band itself and its sums are still exact."""
    release = threading.Event()
    helper_took = threading.Event()
    helper_done = threading.Event()
    main = threading.get_ident()

    def fn(r0, r1):
        if threading.get_ident() != main:
            helper_took.set()
            release.wait(30)  # held up (descheduled, or a busy core) until the caller is done
            helper_done.set()
        else:
            helper_took.wait(60)  # the caller's first band lasts until the helper has one
        return [sum(range(r0, r1)), r1 - r0]

    try:
        sums = _bands.shared(fn, 10, 400, 8)
        assert helper_took.is_set()
        assert not helper_done.is_set()  # the caller returned while the helper held its band
    finally:
        release.set()
    assert sums == [sum(range(10, 410)), 400]


def test_focuscam_threads_1_keeps_measures_on_the_calling_thread(monkeypatch):
    monkeypatch.setenv("FOCUSCAM_THREADS", "1")
    assert _bands.band_count(10_000, 10_000) == 0
    monkeypatch.delenv("FOCUSCAM_THREADS")
    assert _bands.band_count(10_000, 10_000) == _bands.MAX_BANDS
    assert _bands.band_count(7, 10**9) == 0  # too few rows to cut
    assert _bands.band_count(1000, 1) == 0  # too little work


def test_large_frames_are_shared_and_scored_as_on_one_thread(monkeypatch):
    """At the real thresholds a 20-megapixel uint16 frame and a 1080p BGR frame are cut."""
    rng = np.random.default_rng(3)
    big = rng.integers(0, 4096, (3648, 5472), dtype=np.uint16)
    bgr = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    assert _bands.band_count(3648, 5472 * 2) > 0 and _bands.band_count(1080, 1920 * 3) > 0
    shared = [measure(big, "lapv"), measure(bgr, "lapv"), measure(bgr, "glvn")]
    monkeypatch.setenv("FOCUSCAM_THREADS", "1")
    assert [measure(big, "lapv"), measure(bgr, "lapv"), measure(bgr, "glvn")] == shared


def test_a_job_left_in_the_queue_does_not_keep_its_frame(monkeypatch):
    """With the helper starved (its queue never served), the jobs piling up in it must not hold
    the frames they were posted for: memory stays bounded on a busy machine."""
    import gc
    import queue
    import weakref

    class Starved:
        jobs = queue.SimpleQueue()

    monkeypatch.setattr(_bands, "_HELPER", Starved())

    class Frame:
        pass

    frame = Frame()
    alive = weakref.ref(frame)

    def fn(r0, r1, frame=frame):
        return [r1 - r0]

    assert _bands.shared(fn, 0, 64, 4) == [64]
    del fn, frame
    gc.collect()
    assert Starved.jobs.qsize() == 1
    assert alive() is None
