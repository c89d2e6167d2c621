"""The monitor engine: every frame scored on a worker, samples to callbacks and a bounded queue."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import shared_stack

from focuscam.errors import InputError, SourceError
from focuscam.measures import blur_report, focus_map, measure
from focuscam.monitor import Monitor, MonitorSample
from focuscam.sources import ReplaySource
from focuscam.stacks import Stack, load_stack


def textured_stack(n=6, shape=(64, 80)):
    """Frames of growing sharpness: noise blurred less and less."""
    import cv2

    rng = np.random.default_rng(5)
    base = rng.integers(0, 255, shape, dtype=np.uint8)
    frames = [cv2.GaussianBlur(base, (0, 0), 3.0 / (k + 1)) for k in range(n)]
    return Stack.from_frames(frames, kind="sequence")


def run_all(mon):
    got = []
    mon.subscribe(got.append)
    mon.start()
    assert mon.wait(timeout=60)
    return got


def test_every_frame_scored_like_the_measure_oracle():
    stack = textured_stack()
    mon = Monitor(ReplaySource(stack), measure="teng", roi=(4, 4, 60, 50), grid=(2, 3), blur="sync")
    samples = run_all(mon)
    assert [s.seq for s in samples] == list(range(len(stack)))
    assert mon.reason == "ended"
    for s in samples:
        img = stack.image(s.seq)
        assert s.score == measure(img, "teng", (4, 4, 60, 50))
        np.testing.assert_array_equal(s.focus_map, focus_map(img, "teng", (2, 3), (4, 4, 60, 50)))
        assert s.blur == blur_report(img, (4, 4, 60, 50)).to_dict()
        assert s.blur_seq == s.seq
        assert s.measure == "teng" and s.measure_ms >= 0 and s.dropped == 0
    assert [s.score for s in samples] == sorted(s.score for s in samples)  # sharper and sharper


def test_threads_stopped_and_source_closed_at_the_end():
    src = ReplaySource(textured_stack())
    mon = Monitor(src)
    run_all(mon)
    assert not any(t.is_alive() for t in mon.threads)
    assert len(mon.threads) == 2  # scoring and async blur workers
    assert src.closed


def test_async_blur_verdicts_come_from_earlier_or_same_frames():
    stack = textured_stack(12)
    blur_report(stack.image(0))  # compile first, so verdicts can come within the replay
    mon = Monitor(ReplaySource(stack, fps=30), blur="async", blur_rate=50)
    samples = run_all(mon)
    with_verdict = [s for s in samples if s.blur is not None]
    assert with_verdict, "no blur verdict arrived in 12 frames at 30 fps"
    for s in with_verdict:
        assert s.blur_seq <= s.seq
        assert s.blur == blur_report(stack.image(s.blur_seq)).to_dict()


def test_async_blur_on_a_paced_source_judges_frames_on_the_sequence_cadence():
    # 30 fps at 10 verdicts a second: every third frame of the sequence, whenever the worker
    # wakes (before, the frames judged depended on the worker's rests)
    stack = textured_stack(24)
    blur_report(stack.image(0))
    for _ in range(2):
        samples = run_all(Monitor(ReplaySource(stack, fps=30), blur="async", blur_rate=10))
        judged = {s.blur_seq for s in samples if s.blur_seq is not None and not s.late}
        judged.discard(samples[-1].seq)  # the end's own verdict
        assert judged and all(seq % 3 == 0 for seq in judged), judged
    for s in samples:
        if s.blur is not None:
            assert s.blur == blur_report(stack.image(s.blur_seq)).to_dict()


def test_blur_cadence_after_dropped_frames_offers_the_first_frame_past_each_due_one():
    from focuscam._monitor_parts import BlurVerdicts
    from focuscam.types import Frame

    verdicts = BlurVerdicts(threading.Event())
    verdicts.pace(5.0, 30.0)  # every 6th frame
    offered = []
    for seq in range(1, 40, 2):  # only odd frames reach the scorer: none is a multiple of 6
        verdicts.offer(Frame(np.zeros((16, 16), np.uint8), t=seq / 30, seq=seq))
        if verdicts._slot is not None and verdicts._slot.seq not in offered:
            offered.append(verdicts._slot.seq)
    assert offered == [1, 7, 13, 19, 25, 31, 37]


def test_blur_off_gives_no_verdict():
    samples = run_all(Monitor(ReplaySource(textured_stack()), blur="off"))
    assert all(s.blur is None and s.blur_seq is None for s in samples)
    d = samples[0].to_dict()
    assert d["blurred"] is None and "focus_map" not in d


def test_frames_limit_and_samples_iterator():
    src = ReplaySource(textured_stack(3), loop=True)
    with Monitor(src, frames=7, blur="off") as mon:
        seqs = [s.seq for s in mon.samples(timeout=30)]
    assert seqs == list(range(7))
    assert mon.reason == "frames"


def test_without_a_queue_the_callbacks_get_every_sample_and_samples_is_refused():
    mon = Monitor(ReplaySource(textured_stack(3), loop=True), frames=7, blur="off", queue_size=0)
    assert [s.seq for s in run_all(mon)] == list(range(7))
    assert mon.samples_dropped == 0
    with pytest.raises(InputError, match="queue_size=0"):
        next(mon.samples())


def test_seconds_limit():
    mon = Monitor(ReplaySource(textured_stack(3), loop=True, fps=100), seconds=0.3, blur="off")
    samples = run_all(mon)
    assert mon.reason == "seconds"
    assert samples and samples[-1].t - samples[0].t < 0.3


def test_seconds_limit_counts_from_the_first_frames_capture():
    """A first frame that waited in a buffer (captured 1 s before it was read) starts the clock at
    its capture: no frame captured more than ``seconds`` after it is scored."""
    import time

    from focuscam.sources.base import FrameSource
    from focuscam.types import Frame

    class Buffered(FrameSource):
        name = "buffered"
        size, fps, dropped = (80, 64), 100.0, 0

        def __init__(self):
            self.seq = 0
            self.pixels = textured_stack(1).image(0)

        def read(self, timeout=None):
            time.sleep(0.01)
            t = time.monotonic() - (1.0 if self.seq == 0 else 0.0)
            self.seq += 1
            return Frame(self.pixels, t, self.seq - 1)

        def close(self):
            pass

    mon = Monitor(Buffered(), seconds=0.3, blur="off")
    samples = run_all(mon)
    assert mon.reason == "seconds"
    assert samples and all(s.t - samples[0].t < 0.3 for s in samples), [s.t for s in samples]


def test_to_dict_is_json_ready():
    import json

    samples = run_all(Monitor(ReplaySource(textured_stack(2)), grid=(2, 2), blur="sync"))
    d = json.loads(json.dumps(samples[-1].to_dict()))
    for key in (
        "t",
        "seq",
        "score",
        "measure",
        "blurred",
        "per",
        "blur_extent",
        "focus_map",
        "fps",
        "dropped",
    ):
        assert key in d
    assert np.array(d["focus_map"]).shape == (2, 2)
    assert isinstance(samples[-1], MonitorSample)


def test_fps_is_the_rate_of_the_frames():
    mon = Monitor(ReplaySource(textured_stack(3), loop=True, fps=40), frames=25, blur="off")
    samples = run_all(mon)
    last = samples[-1]
    # fps is computed from the capture times; the oracle is the same window of t's
    ts = [s.t for s in samples[-30:]]
    assert last.fps == pytest.approx((len(ts) - 1) / (ts[-1] - ts[0]))
    assert last.fps <= 40 * 1.05  # a paced replay is never faster than asked


def test_a_bad_roi_stops_the_monitor_and_wait_raises_it():
    src = ReplaySource(textured_stack())
    mon = Monitor(src, roi=(0, 0, 500, 500), blur="off")
    mon.start()
    with pytest.raises(InputError, match="roi"):
        mon.wait(timeout=60)
    assert not any(t.is_alive() for t in mon.threads)
    assert src.closed


def test_a_callback_error_stops_the_monitor():
    mon = Monitor(ReplaySource(textured_stack(), loop=True), blur="async")

    def boom(sample):
        if sample.seq == 2:
            raise RuntimeError("display gone")

    mon.subscribe(boom)
    mon.start()
    with pytest.raises(RuntimeError, match="display gone"):
        mon.wait(timeout=60)
    assert mon.count == 3
    assert not any(t.is_alive() for t in mon.threads)


@pytest.mark.shared
def test_a_source_failing_mid_stream_is_raised_after_the_frames_before_it(tmp_path):
    import cv2

    from focuscam.sources import CameraSource

    stack = load_stack(shared_stack("scorpion_lapse"))
    path = tmp_path / "cam.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (648, 486))
    for i in range(5):
        writer.write(stack.image(i))
    writer.release()
    src = CameraSource(path, live=True, reconnect=1, backoff=0.01)
    path.unlink()  # the "camera" will not come back after its 5 frames
    mon = Monitor(src, blur="off")
    samples = run_all_raises(mon)
    assert [s.seq for s in samples] == list(range(5))
    assert not src.alive


def run_all_raises(mon):
    got = []
    mon.subscribe(got.append)
    mon.start()
    with pytest.raises(SourceError, match="did not come back"):
        mon.wait(timeout=60)
    return got


def test_stop_from_outside_joins_everything():
    src = ReplaySource(textured_stack(3), loop=True, fps=200)
    mon = Monitor(src).start()
    while mon.count < 3:
        threading.Event().wait(0.01)
    mon.stop()
    assert not any(t.is_alive() for t in mon.threads)
    assert mon.error is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"measure": "nope"}, "unknown"),
        ({"grid": (0, 3)}, "grid"),
        ({"blur": "maybe"}, "blur"),
        ({"blur_rate": 0}, "blur_rate"),
        ({"frames": 0}, "frames"),
        ({"roi": (1, 2, 3)}, "roi"),
        ({"queue_size": -1}, "queue_size"),
    ],
)
def test_bad_parameters(kw, match):
    with pytest.raises(InputError, match=match):
        Monitor(ReplaySource(textured_stack(2)), **kw)


@pytest.mark.slow
@pytest.mark.shared
def test_the_monitor_benchmark_runs_and_reports_both_figures():
    import json
    import subprocess
    import sys

    from conftest import REPO

    shared_stack("scorpion_lapse")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_monitor.py"),
            "--frames",
            "12",
            "--rounds",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    rows = {r["run"]: r for r in info["results"]}
    assert rows["decode only (CameraSource)"]["overhead_pct_vs_decode_only"] == 0.0
    assert any(name.startswith("pipeline") for name in rows)
    for r in rows.values():
        assert r["frames"] == 12 and r["fps"] > 0


@pytest.mark.parametrize("limit", [{}, {"frames": 4}])
def test_async_the_last_frames_verdict_comes_at_the_end(limit):
    stack = textured_stack(6)
    mon = Monitor(ReplaySource(stack), blur="async", blur_rate=1, **limit)
    samples = run_all(mon)
    late = [s for s in samples if s.late]
    scored = [s for s in samples if not s.late]
    last = scored[-1]
    if limit:  # the last frame of a frames limit is judged before its sample is sent
        assert last.blur_seq == last.seq and last.blur == blur_report(stack.image(last.seq)).to_dict()
    if last.blur_seq == last.seq:  # nothing is owed
        assert late == []
    else:
        assert late == [samples[-1]]
        assert (late[0].seq, late[0].score, late[0].blur_seq) == (last.seq, last.score, last.seq)
        assert late[0].blur == blur_report(stack.image(last.seq)).to_dict()
        assert late[0].to_dict()["late"] is True
    assert mon.verdicts == sum(s.blur_seq == s.seq for s in samples) >= 1
    assert mon.count == len(scored)


def test_sync_has_no_late_sample_and_every_frame_its_verdict():
    stack = textured_stack(5)
    samples = run_all(Monitor(ReplaySource(stack), blur="sync"))
    assert not any(s.late for s in samples)
    assert [s.blur_seq for s in samples] == [s.seq for s in samples] == list(range(5))


def test_a_stopped_monitor_sends_no_late_verdict():
    src = ReplaySource(textured_stack(3), loop=True, fps=200)
    got = []
    mon = Monitor(src, blur="async", blur_rate=1)
    mon.subscribe(got.append)
    mon.start()
    while mon.count < 3:
        threading.Event().wait(0.01)
    mon.stop()
    assert not any(s.late for s in got)


@pytest.mark.shared
def test_sync_verdicts_on_the_scorpion_replay_belong_to_their_frames():
    stack = load_stack(shared_stack("scorpion_lapse"))
    samples = run_all(Monitor(ReplaySource(stack), blur="sync", measure="lapv"))
    assert [s.seq for s in samples] == list(range(len(stack)))
    for s in samples:
        assert s.blur_seq == s.seq and s.blur == blur_report(stack.image(s.seq)).to_dict()
