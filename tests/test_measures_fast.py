"""The short Python path of the hot measures (focuscam.measures._fast) against the general one.

Every case the short path takes must give exactly the general path's score (same kernels,
same finish), every case it declines must still be scored (or rejected) by the general path,
and its per-thread buffers must not leak between threads or between calls.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from focuscam.errors import InputError
from focuscam.measures import _fast, _run, measure


def _general(name, frame, roi=None):
    img, geo = _run.prepare(frame, roi, 1)
    return _run.finish(name, _run.run(name, img, geo)[0, 0], geo[7] * geo[8], geo[2])


CASES = [
    ("lapv", np.uint8, 1),
    ("lapv", np.uint8, 3),
    ("lapv", np.uint16, 1),
    ("teng", np.uint8, 1),
    ("teng", np.uint8, 3),
    ("glvn", np.uint8, 1),
    ("glvn", np.uint8, 3),
    ("glvn", np.uint16, 1),
]


@pytest.mark.parametrize(("name", "dtype", "ch"), CASES)
def test_short_path_equals_general_path(name, dtype, ch):
    rng = np.random.default_rng(7)
    top = np.iinfo(dtype).max
    for h, w in ((1, 1), (3, 40), (37, 91), (64, 300)):
        shape = (h, w, 3) if ch == 3 else (h, w)
        frame = rng.integers(0, top + 1, shape, dtype=dtype)
        rois = [None, (0, 0, w, h), (w // 3, h // 3, max(w // 2, 1), max(h // 2, 1)), (w - 1, h - 1, 1, 1)]
        for roi in rois:
            fast = _fast.try_compute(name, frame, roi, 1)
            assert fast is not None, (shape, roi)
            assert fast == _general(name, frame, roi), (shape, roi)


def test_short_path_declines_what_it_does_not_take():
    frame = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    declined = [
        ("lapv", frame, None, 2),  # binned
        ("lapv", frame, None, np.int64(1)),  # bin not a Python int
        ("lapv", frame, [0, 0, 5, 5], 1),  # ROI not a tuple
        ("lapv", frame, (0, 0, np.int64(5), 5), 1),  # ROI value not a Python int
        ("lapv", frame, (0, 0, 31, 5), 1),  # outside the frame
        ("lapv", frame, (0, 0, 0, 5), 1),  # empty
        ("lapv", frame[:, ::2], None, 1),  # not contiguous
        ("lapv", frame.astype(np.float32), None, 1),  # float
        ("lapv", np.zeros((4, 4, 3), np.uint16), None, 1),  # uint16 BGR
        ("lapm", frame, None, 1),  # no hot kernel
        ("teng", frame.astype(np.uint16), None, 1),  # no uint16 teng hot kernel
        ("lapv", frame.tolist(), None, 1),  # not an array
    ]
    for name, f, roi, b in declined:
        assert _fast.try_compute(name, f, roi, b) is None, (name, roi, b)


def test_declined_cases_are_scored_or_rejected_as_before():
    frame = np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8)
    assert measure(frame, "lapv", [2, 3, 10, 9]) == measure(frame, "lapv", (2, 3, 10, 9))
    assert measure(frame, "lapv", (np.int64(2), 3, 10, 9)) == measure(frame, "lapv", (2, 3, 10, 9))
    assert measure(frame[:, ::2], "glvn") == measure(np.ascontiguousarray(frame[:, ::2]), "glvn")
    with pytest.raises(InputError, match="leaves the"):
        measure(frame, "lapv", (0, 0, 31, 5))
    with pytest.raises(InputError, match="empty"):
        measure(frame, "glvn", (0, 0, 0, 5))


def test_buffers_do_not_leak_between_calls_or_threads():
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (50, 70, 3), dtype=np.uint8) for _ in range(4)]
    frames += [rng.integers(0, 256, (50, 90), dtype=np.uint8) for _ in range(4)]
    want = {(i, n): _general(n, f) for i, f in enumerate(frames) for n in ("lapv", "teng", "glvn")}
    for (i, n), v in want.items():  # a call after another must not see its sums
        assert measure(frames[i], n) == v
    errors = []

    def worker(seed):
        order = np.random.default_rng(seed).permutation(len(want))
        keys = list(want)
        for _ in range(20):
            for j in order:
                i, n = keys[j]
                if measure(frames[i], n) != want[i, n]:
                    errors.append((seed, i, n))

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
