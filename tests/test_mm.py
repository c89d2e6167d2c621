"""Micro-Manager through pymmcore-plus: focuscam's twin devices inside a real MMCore (UniMMCore),
read and driven through ``open_source(core)``, ``open_drive(core, ...)`` and ``mm:CFG`` specs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import REPO
from mm_twin import CELLS16, CFG, TARGET, twin_core

from focuscam.autofocus import Autofocus
from focuscam.drives import open_drive
from focuscam.errors import DeviceError, InputError, PositionUnknownError
from focuscam.sources import open_source
from focuscam.stacks import load_stack

pytest.importorskip("pymmcore_plus.experimental.unicore")


@pytest.fixture
def core():
    c = twin_core()
    yield c
    c.unloadAllDevices()


def _truth_um(stack):
    assert stack.z_unit == "um"
    return stack.truth["z"], stack.truth["tolerance"]


@pytest.mark.parametrize("stack_path", [TARGET, CELLS16], ids=["target_color", "cells_gray16"])
def test_autofocus_through_a_real_mmcore_lands_within_the_truth(stack_path):
    """The must-show: camera and stage in a real MMCore, focused via open_source/open_drive."""
    stack = load_stack(stack_path)
    truth, tol = _truth_um(stack)
    lo, hi = float(stack.z.min()), float(stack.z.max())
    core = twin_core(stack_path)
    try:
        src = open_source(core)
        drive = open_drive(core, limits=(lo - 5, hi), backlash_um=5.0)
        with src, drive:
            drive.move_to(hi)  # start far from focus
            result = Autofocus(src, drive).run()
            assert result.focused, result.reason
            assert abs(result.z - truth) <= tol, (result.z, truth, tol)
            assert core.getPosition("Z") == pytest.approx(result.z)
            frame = src.read()
            assert frame.pixels.dtype == stack.image(0).dtype  # 16-bit kept
    finally:
        core.unloadAllDevices()


def test_a_fresh_frame_is_snapped_after_the_move_finished(core):
    core.setProperty("Camera", "Blend", 0)
    core.setProperty("Z", "SettleBusy_s", 0.2)
    stack = load_stack(TARGET)
    with open_source(core) as src, open_drive(core, limits=(-20, 20)) as drive:
        for k in (3, 20, 11):
            z = float(stack.z[k])
            after = drive.clock.now()
            assert drive.move_to(z) == pytest.approx(z)
            assert not core.deviceBusy("Z"), "move_to returned while the stage was busy"
            frame = src.fresh_frame(after=drive.clock.now())
            assert frame.meta["t_start"] > after
            # the very plane at z, colour order BGR as everywhere in focuscam
            np.testing.assert_array_equal(frame.pixels, stack.image(k))
            assert frame.z == pytest.approx(z)


def test_camera_roi_and_exposure_are_set_while_open_and_the_roi_undone(core):
    full = load_stack(TARGET).image(0).shape
    with open_source(core, roi=(10, 20, 64, 48), exposure_ms=30.0) as src:
        frame = src.read()
        assert frame.pixels.shape == (48, 64, 3)
        assert src.size == (64, 48)
        assert frame.meta["exposure_ms"] == pytest.approx(30.0)
        assert core.getExposure() == pytest.approx(30.0)
    assert tuple(core.getROI())[2:] == (full[1], full[0])


def test_a_stage_that_stays_busy_is_waited_for_before_the_position_is_read(core):
    core.setProperty("Z", "SettleBusy_s", 0.3)
    seen = []
    with open_drive(core, limits=(-20, 20)) as drive:
        original = core.waitForDevice

        def spy(label):
            seen.append(("wait", core.deviceBusy(label)))
            original(label)

        core.waitForDevice = spy
        try:
            drive.move_to(7.0)
        finally:
            del core.waitForDevice
    assert seen, "waitForDevice was never called"
    assert not core.deviceBusy("Z")


def test_a_device_error_mid_move_makes_the_position_unknown_until_resync(core):
    core.setProperty("Z", "Speed", 50.0)
    with open_drive(core, limits=(-20, 20)) as drive:
        core.setProperty("Z", "Fault", "error-mid-move")
        with pytest.raises(DeviceError) as info:
            drive.move_to(15.0)
        assert "mid-move" in str(info.value) and "\n" not in str(info.value)
        assert not drive.position_known
        with pytest.raises(PositionUnknownError):
            drive.move_to(0.0)
        core.setProperty("Z", "Fault", "none")
        core.stop("Z")
        z = drive.resync()
        assert drive.position_known and z == pytest.approx(core.getPosition("Z"))
        assert drive.move_to(1.0) == pytest.approx(1.0)


def test_a_refused_move_makes_the_position_unknown(core):
    with open_drive(core, limits=(-20, 20)) as drive:
        core.setProperty("Z", "Fault", "error")
        with pytest.raises(DeviceError, match="refused"):
            drive.move_to(3.0)
        assert not drive.position_known


def test_stop_from_another_thread_halts_the_stage(core):
    core.setProperty("Z", "Speed", 20.0)
    with open_drive(core, limits=(-20, 20)) as drive:
        started = threading.Event()
        core.events.stagePositionChanged.connect(lambda *a: started.set())
        outcome = []
        t = threading.Thread(target=lambda: outcome.append(_try(drive.move_to, 18.0)))
        t.start()
        assert started.wait(5)
        drive.stop()
        t.join(5)
        assert type(outcome[0]).__name__ == "Aborted"
        assert not core.deviceBusy("Z")
        assert core.getPosition("Z") < 18.0


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        return exc


def test_a_drive_and_source_on_your_core_leave_it_loaded(core):
    with open_drive(core, limits=(-5, 5)) as drive, open_source(core) as src:
        drive.move_to(1.0)
        src.read()
    assert {"Camera", "Z"} <= set(core.getLoadedDevices())
    assert core.getPosition("Z") == pytest.approx(1.0)


def test_limits_are_required_and_checked_before_anything_is_sent(core):
    with pytest.raises(InputError, match="limits"):
        open_drive(core)
    with open_drive(core, limits=(-5, 5)) as drive:
        from focuscam.errors import LimitError

        with pytest.raises(LimitError):
            drive.move_to(6.0)
        assert core.getPosition("Z") == 0.0


# ---------------------------------------------------------------------- mm:CFG specs
def test_mm_specs_share_one_core_per_process_and_unload_it_at_the_end():
    src = open_source(f"mm:{CFG}")
    drive = open_drive(f"mm:{CFG}", limits=(-18, 18))
    try:
        assert src.core is drive.core
        assert drive.label == "Z" and src.camera == "Camera"
        assert drive.move_to(-2.5) == pytest.approx(-2.5)
        assert src.read().pixels.shape == (240, 320, 3)
        with pytest.raises(InputError, match="one core per process"):
            open_source(f"mm:{REPO / 'recordings' / 'rig.example.toml'}")
    finally:
        src.close()
        drive.close()
    assert "Z" not in src.core.getLoadedDevices()  # unloaded when the last user closed
    with open_drive(f"mm:{CFG}", limits=(-18, 18)) as again:  # and loaded again on demand
        assert again.core is not src.core


def test_mm_spec_with_a_device_label(tmp_path):
    with open_drive(f"mm:{CFG}#Z", limits=(-1, 1)) as drive, open_source(f"mm:{CFG}#Camera") as src:
        assert drive.label == "Z" and src.camera == "Camera"
    with pytest.raises(InputError, match="camera 'Z' is not loaded"):
        open_source(f"mm:{CFG}#Z")
    with pytest.raises(InputError, match="is not loaded"):
        open_drive(f"mm:{CFG}#Piezo", limits=(-1, 1))
    with pytest.raises(InputError, match="is not a focus"):
        open_drive(f"mm:{CFG}#Camera", limits=(-1, 1))


def test_mm_spec_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_source(f"mm:{tmp_path / 'nope.cfg'}")
    bad = tmp_path / "bad.cfg"
    bad.write_text("#py pyDevice,Camera,focuscam.mm_devices,NoSuchCamera\nProperty,Core,Initialize,1\n")
    with pytest.raises(DeviceError) as info:
        open_source(f"mm:{bad}")
    assert "\n" not in str(info.value) and "NoSuchCamera" in str(info.value)
    stackless = tmp_path / "stackless.cfg"
    stackless.write_text(
        "#py pyDevice,Camera,focuscam.mm_devices,TwinCamera\n#py Property,Camera,Stack,missing_stack\n"
    )
    with pytest.raises(DeviceError, match="missing_stack"):
        open_source(f"mm:{stackless}")


@pytest.mark.shared
def test_a_real_microscope_stack_inside_mmcore_is_focused_within_its_truth():
    """dfnn_mitochondria (16-bit widefield, 50 nm steps) served by the twin camera in MMCore."""
    from conftest import shared_stack

    path = shared_stack("dfnn_mitochondria")
    stack = load_stack(path)
    lo, hi = float(stack.z.min()), float(stack.z.max())
    core = twin_core(path)
    try:
        with open_source(core) as src, open_drive(core, limits=(lo, hi)) as drive:
            drive.move_to(hi)
            result = Autofocus(src, drive).run()
        assert result.focused, result.reason
        assert abs(result.z - stack.truth["z"]) <= stack.truth["tolerance"], result.z
    finally:
        core.unloadAllDevices()
