"""Raspberry Pi cameras through picamera2, tested against a stand-in that follows picamera2's
documented API (tests/fake_picamera2, injected via sys.modules): ``picamera:N`` frames with
SensorTimestamp times and exposure/gain metadata, ``picamera-lens:N`` in dioptres with limits
from the LensPosition control and moves counted in frames from metadata. Not run on a real Pi."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time

import numpy as np
import pytest
from conftest import REPO

from focuscam.autofocus import Autofocus
from focuscam.drives import open_drive
from focuscam.errors import InputError
from focuscam.sources import open_source
from focuscam.stacks import load_stack

FAKE = REPO / "tests" / "fake_picamera2"
TARGET = REPO / "recordings" / "target_color"


@pytest.fixture
def picamera2(monkeypatch):
    spec = importlib.util.spec_from_file_location("picamera2", FAKE / "picamera2" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.STACK = str(TARGET)
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return module


def test_without_picamera2_the_error_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as off a Pi
    with pytest.raises(InputError, match="Raspberry Pi OS") as info:
        open_source("picamera:0")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="Raspberry Pi OS"):
        open_drive("picamera-lens:0")


def test_frames_carry_sensor_timestamp_exposure_and_gain(picamera2):
    with open_source("picamera:0", exposure_us=20000, gain=2.5) as src:
        cam = picamera2.opened[-1]
        assert cam.config["main"]["format"] == "RGB888"
        before = time.monotonic()
        frame = src.read()
        after = time.monotonic()
        assert frame.pixels.shape == (240, 320, 3) and frame.pixels.dtype == np.uint8
        np.testing.assert_array_equal(frame.pixels, load_stack(TARGET).image(frame_index(cam)))
        assert before <= frame.meta["t_start"] <= after  # SensorTimestamp on the monotonic clock
        assert frame.meta["exposure_us"] == 20000 and frame.meta["analogue_gain"] == 2.5
        assert src.size == (320, 240)
    assert cam.closed


def frame_index(cam):
    lo, hi = cam.camera_controls["LensPosition"][:2]
    z = cam._z[0] + (cam.lens - lo) / (hi - lo) * (cam._z[-1] - cam._z[0])
    return int(cam._order[int(np.argmin(np.abs(cam._z - z)))])


def test_lens_drive_limits_come_from_the_lens_position_control(picamera2):
    with open_drive("picamera-lens:0") as drive:
        assert (drive.limits.lo, drive.limits.hi) == (0.0, 10.0)
    with open_drive("picamera-lens:0", limits=(1, 6)) as drive:
        assert drive.limits.hi == 6
    with pytest.raises(InputError, match="leave the lens range"):
        open_drive("picamera-lens:0", limits=(-1, 6))
    picamera2.HAS_LENS = False
    with pytest.raises(InputError, match="no focus motor"):
        open_drive("picamera-lens:0")
    assert all(cam.closed for cam in picamera2.opened)


def test_a_lens_move_sets_manual_focus_and_counts_frames_from_metadata(picamera2):
    with open_drive("picamera-lens:0") as drive:
        cam = picamera2.opened[-1]
        frames0 = cam.frames
        z = drive.move_to(7.0)
        assert z == pytest.approx(7.0, abs=drive.tolerance)
        # 1 -> 7 dioptres at 0.75 per frame: 8 frames to arrive, then 2 frames at the target
        needed = math.ceil((7.0 - 1.0) / picamera2.LENS_STEP) + drive.settle_frames - 1
        assert drive.frames_waited >= needed
        assert cam.frames - frames0 >= needed
        manual = [c for c in cam.set_controls_calls if "LensPosition" in c]
        assert manual and all(c["AfMode"] == 0 for c in manual)


def test_source_and_lens_share_one_camera_and_focus_it(picamera2):
    stack = load_stack(TARGET)
    lo, hi = float(stack.z.min()), float(stack.z.max())
    to_dioptres = lambda z: (z - lo) / (hi - lo) * 10.0  # noqa: E731 - the stand-in's mapping
    src = open_source("picamera:0")
    drive = open_drive("picamera-lens:0")
    try:
        assert len(picamera2.opened) == 1  # one Picamera2 for both
        drive.move_to(9.5)
        fresh = src.fresh_frame(after=drive.clock.now())
        assert fresh.meta["lens_dioptres"] == pytest.approx(9.5, abs=drive.tolerance)
        spacing = to_dioptres(lo + 1.5)
        result = Autofocus(src, drive, resolution_um=spacing).run()  # positions in dioptres here
        assert result.focused, result.reason
        truth = to_dioptres(stack.truth["z"])
        assert abs(result.z - truth) <= to_dioptres(lo + stack.truth["tolerance"]) + drive.tolerance
    finally:
        src.close()
        assert not picamera2.opened[0].closed  # the drive still uses it
        drive.close()
    assert picamera2.opened[0].closed


def test_cli_monitor_and_move_on_the_stand_in(run_cli, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(FAKE))
    monkeypatch.setenv("FAKE_PICAMERA2_STACK", str(TARGET))
    proc = run_cli("move", "--drive", "picamera-lens:0", "--to", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["z"] == pytest.approx(3.0, abs=0.02)
    proc = run_cli("monitor", "--source", "picamera:0", "--frames", "2", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    monkeypatch.setenv("PYTHONPATH", "")
    proc = run_cli("monitor", "--source", "picamera:0", "--frames", "1", "--no-window")
    assert proc.returncode == 2 and "Raspberry Pi OS" in proc.stderr and "Traceback" not in proc.stderr
