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


@pytest.mark.parametrize("backlash", [0.0, 10.0])
def test_relative_moves_add_up_across_opens_on_the_kept_target(wire, backlash):
    """Issue 12 item 6: each open (a new process) continues from the target the firmware kept,
    so n relative moves at 4 um per step end on the grid point nearest their exact sum, and the
    backlash overshoot (a step of its own) never replaces the final target's aim."""
    import random

    fw, proxy = wire
    spu, grid = 0.25, 4.0
    rng = random.Random(7)
    total = 0.0
    for k in range(6):
        dz = rng.choice([-1, 1]) * rng.uniform(1.0, 40.0)
        with open_drive(
            f"focuscam:{proxy.port}",
            limits=(-500, 500),
            steps_per_um=spu,
            backlash_um=backlash,
            timeout_s=0.5,
        ) as drive:
            assert drive.keeps_target
            # kept to 1/1000 of a step: each open adds at most half of that
            assert drive.relative_base() == pytest.approx(total, abs=k * 0.5e-3 / spu + 1e-9)
            z = drive.move_by(dz)
        total += dz
        assert z == pytest.approx(grid * round(total / grid))
        assert fw.state()["phys"] == round(z * spu)
