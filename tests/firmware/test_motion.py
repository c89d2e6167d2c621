"""The trapezoidal planner as it really steps: the host build traces the planned time of every
step pulse, and the profile is checked against the kinematics of an ideal trapezoid."""

from __future__ import annotations

import itertools
import math
import os
import time

import pytest

from .peers import FirmwareProcess
from .raw import RawPort

pytestmark = pytest.mark.firmware

TICK_HZ = 250_000  # hal::TICK_HZ


def _trace_move(tmp_path, steps: int, speed: int, accel: int) -> tuple[list[float], list[int]]:
    trace = tmp_path / "steps.txt"
    fw = FirmwareProcess("host", "--trace", str(trace))
    port = None
    try:
        port = RawPort(fw.port)
        port.sync()
        port.cmd("SPEED", speed)
        port.cmd("ACCEL", accel)
        assert port.cmd("MOVE", steps).ok
        port.wait_event("done", timeout=30)
        time.sleep(0.05)
    finally:
        if port is not None:
            port.close()
        fw.close()
    rows = [line.split() for line in trace.read_text().splitlines()]
    return [int(t) / TICK_HZ for t, _ in rows], [int(p) for _, p in rows]


def _ramp_slack(accel: float) -> float:
    """Austin's ramp approximates the first and the last step: at most one ideal first
    interval, sqrt(2 / a), of difference at each end of a move."""
    return 2 * math.sqrt(2 / accel)


def _ideal_duration(steps: int, v: float, a: float) -> float:
    ramp = v * v / (2 * a)
    if 2 * ramp >= steps:  # triangle: never reaches cruise speed
        return 2 * math.sqrt(steps / a)
    return 2 * v / a + (steps - 2 * ramp) / v


def test_a_long_move_accelerates_cruises_and_decelerates(tmp_path):
    speed, accel, steps = 2000, 10_000, 3000
    t, pos = _trace_move(tmp_path, steps, speed, accel)
    assert pos == list(range(1, steps + 1)), "every step taken once, in order"
    intervals = [b - a for a, b in itertools.pairwise(t)]
    # cruise: the shortest interval is the cruise speed, never faster
    assert 1 / min(intervals) == pytest.approx(speed, rel=0.01)
    # the whole move takes the time of the ideal trapezoid (the first step is delayed by c0)
    assert t[-1] == pytest.approx(_ideal_duration(steps, speed, accel), abs=_ramp_slack(accel))
    # during the ramp, speed follows v = sqrt(2 a s)
    for s in (20, 50, 100, 150):
        v = 1 / intervals[s]
        assert v == pytest.approx(math.sqrt(2 * accel * s), rel=0.08), s
        v_end = 1 / intervals[-s - 1]
        assert v_end == pytest.approx(math.sqrt(2 * accel * s), rel=0.08), -s
    # monotone ramps: speeding up, then slowing down
    ramp = int(speed * speed / (2 * accel))
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(intervals[: ramp - 4]))
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(intervals[-ramp + 5 :]))


def test_a_short_move_is_a_triangle_below_cruise_speed(tmp_path):
    speed, accel, steps = 2000, 10_000, 100
    t, pos = _trace_move(tmp_path, steps, speed, accel)
    assert pos == list(range(1, steps + 1))
    intervals = [b - a for a, b in itertools.pairwise(t)]
    peak = 1 / min(intervals)
    assert peak == pytest.approx(math.sqrt(accel * steps), rel=0.1)  # v_peak = sqrt(a * d)
    assert peak < 0.8 * speed
    assert t[-1] == pytest.approx(_ideal_duration(steps, speed, accel), abs=_ramp_slack(accel))
    assert os.path.exists(tmp_path / "steps.txt")
