"""UvcFocusDrive against a fake capture (tests/drives/fake_capture.py): there is no camera on
this machine, so the one stand-in of the drive tests models the UVC driver's clamping here."""

from __future__ import annotations

import pytest

from focuscam.drives.uvc import UvcFocusDrive
from focuscam.errors import DeviceError, LimitError, PositionUnknownError

from .contract import DriveContract, Rig
from .fake_capture import FakeFocusCapture


def uvc_rig(*, backlash_um: float = 0.0, mech_backlash_um: float = 0.0) -> Rig:
    assert mech_backlash_um == 0.0  # the fake has no dead band (models_backlash = False)
    cap = FakeFocusCapture(lo=-1000.0, hi=1000.0, step=1.0)
    drive = UvcFocusDrive(
        cap, limits=DriveContract.LIMITS, backlash_um=backlash_um, settle_s=0.0, tolerance=0.5
    )

    def fail(on: bool) -> None:
        cap.unplugged = on

    return Rig(
        drive=drive,
        resolution_um=1.0,
        targets_um=lambda: list(cap.focus_writes),
        mechanical_um=lambda: cap.focus,
        moving=lambda: False,
        fail_replies=fail,
    )


class TestUvcContract(DriveContract):
    stops_mid_move = False
    models_backlash = False

    @pytest.fixture
    def make_rig(self):
        rigs = []

        def make(*, backlash_um=0.0, mech_backlash_um=0.0):
            rig = uvc_rig(backlash_um=backlash_um, mech_backlash_um=mech_backlash_um)
            rigs.append(rig)
            return rig

        yield make
        for rig in rigs:
            rig.shutdown()


def test_opening_switches_autofocus_off_and_probes_the_range():
    cap = FakeFocusCapture(lo=0.0, hi=250.0, step=5.0, focus=40.0)
    drive = UvcFocusDrive(cap, settle_s=0.0)
    assert cap.autofocus == 0.0
    assert (drive.limits.lo, drive.limits.hi) == (0.0, 250.0)
    assert cap.focus == 40.0, "probing must restore the original focus"
    assert drive.position == 40.0


def test_a_value_the_driver_rounds_is_reported_not_hidden():
    cap = FakeFocusCapture(lo=0.0, hi=250.0, step=5.0)
    drive = UvcFocusDrive(cap, settle_s=0.0)
    assert drive.move_to(125.0) == 125.0
    with pytest.raises(DeviceError, match="instead of 127"):
        drive.move_to(127.0)
    with pytest.raises(PositionUnknownError):
        drive.move_to(130.0)
    assert drive.resync() == 125.0
    assert drive.move_to(130.0) == 130.0


def test_limits_outside_the_range_are_refused_before_the_camera_sees_them():
    cap = FakeFocusCapture(lo=0.0, hi=250.0, step=5.0)
    drive = UvcFocusDrive(cap, settle_s=0.0)
    writes = list(cap.focus_writes)
    with pytest.raises(LimitError, match="250"):
        drive.move_to(260.0)
    assert cap.focus_writes == writes


def test_a_camera_without_manual_focus_is_refused():
    cap = FakeFocusCapture()
    cap.set = lambda prop, value: False  # no controls at all
    with pytest.raises(DeviceError, match="autofocus"):
        UvcFocusDrive(cap)


def test_a_shared_capture_is_not_released_on_close():
    cap = FakeFocusCapture()
    with UvcFocusDrive(cap, settle_s=0.0, limits=(0, 250)) as drive:
        drive.move_to(50.0)
    assert not cap.released


def test_opening_a_missing_camera_is_a_device_error():
    from focuscam.drives import open_drive

    with pytest.raises(DeviceError, match="cannot open camera"):
        open_drive("uvc:/dev/no-such-video-device", limits=(0, 250))
