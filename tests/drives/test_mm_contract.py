"""The shared drive contract (tests/drives/contract.py) run against a Micro-Manager focus stage:
focuscam's TwinStage python device loaded into a real MMCore (pymmcore-plus UniMMCore), driven
through ``open_drive(core, ...)``."""

from __future__ import annotations

import pytest

from focuscam.drives import open_drive

from .contract import DriveContract, Rig

unicore = pytest.importorskip("pymmcore_plus.experimental.unicore")


def mm_rig(*, backlash_um: float = 0.0, mech_backlash_um: float = 0.0) -> Rig:
    from focuscam.mm_devices import TwinStage

    core = unicore.UniMMCore()
    stage = TwinStage()
    core.loadPyDevice("Z", stage)
    core.initializeAllDevices()
    core.setFocusDevice("Z")
    core.setProperty("Z", "Speed", 2500.0)
    core.setProperty("Z", "Backlash", mech_backlash_um)
    # the contract's longest move (1250 um) takes 0.5 s at this speed: the timeout leaves it 4x
    # that, so a busy machine cannot turn a normal move into a timeout (only the hang test waits it)
    drive = open_drive(core, limits=DriveContract.LIMITS, backlash_um=backlash_um, timeout_s=2.0)

    def fail(on: bool) -> None:
        core.setProperty("Z", "Fault", "hang" if on else "none")

    return Rig(
        drive=drive,
        resolution_um=1e-6,
        targets_um=lambda: list(stage.commands),
        mechanical_um=lambda: stage.optics_um,
        moving=stage.moving,
        fail_replies=fail,
        close=core.unloadAllDevices,
    )


class TestMMCoreContract(DriveContract):
    @pytest.fixture
    def make_rig(self):
        rigs = []

        def make(*, backlash_um=0.0, mech_backlash_um=0.0):
            rig = mm_rig(backlash_um=backlash_um, mech_backlash_um=mech_backlash_um)
            rigs.append(rig)
            return rig

        yield make
        for rig in rigs:
            rig.shutdown()
