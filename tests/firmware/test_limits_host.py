"""Issue 12 item 1 on the firmware host build: the firmware's own copy of the soft limits is the
whole steps INSIDE the host's limits, and a target at an off-grid limit goes to the inner step."""

from __future__ import annotations

import re

import pytest

from focuscam.drives import open_drive

from .peers import FirmwareProcess, PtyProxy

pytestmark = pytest.mark.firmware


@pytest.fixture
def wire():
    fw = FirmwareProcess("host", "--scale", "20")
    proxy = PtyProxy(fw.port)
    yield fw, proxy
    proxy.close()
    fw.close()


def test_the_firmware_limits_are_rounded_inwards_and_targets_stay_inside(wire):
    fw, proxy = wire
    limits = (-300.45, 299.95)  # 2 steps/um: -600.9 .. 599.9 steps; inwards -600 .. 599
    with open_drive(f"focuscam:{proxy.port}", limits=limits, steps_per_um=2.0, timeout_s=0.5) as drive:
        sent = [line.decode() for line in proxy.to_fw]
        lims = [re.search(r"LIM (-?\d+) (-?\d+)\*", line) for line in sent]
        assert [m.groups() for m in lims if m] == [("-600", "599")], sent
        assert drive._transact("LIM").fields == {"lo": "-600", "hi": "599"}  # the firmware's copy
        assert drive.move_to(299.95) == pytest.approx(299.5)
        assert drive.move_to(-300.45) == pytest.approx(-300.0)
    assert proxy.targets == [599, -600]
    assert fw.state()["phys"] == -600
