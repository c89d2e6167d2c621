"""The shared drive contract (tests/drives/contract.py) run against every driver and its peer:
the simulated stage, GRBL and Sangaboard (both reply styles, blocking and polling) emulated on
the far side of a real pseudo-terminal."""

from __future__ import annotations

import pytest

from .contract import DriveContract
from .rigs import grbl_rig, sangaboard_rig, sim_rig


def _factory(build):
    rigs = []

    def make(*, backlash_um=0.0, mech_backlash_um=0.0):
        rig = build(backlash_um=backlash_um, mech_backlash_um=mech_backlash_um)
        rigs.append(rig)
        return rig

    return make, rigs


class TestSimContract(DriveContract):
    @pytest.fixture
    def make_rig(self):
        make, rigs = _factory(sim_rig)
        yield make
        for rig in rigs:
            rig.shutdown()


class TestGrblContract(DriveContract):
    @pytest.fixture
    def make_rig(self):
        make, rigs = _factory(lambda **kw: grbl_rig(**kw)[0])
        yield make
        for rig in rigs:
            rig.shutdown()


class TestSangaboardContract(DriveContract):
    @pytest.fixture(
        params=[("1.0", True), ("0.5", True), ("1.0", False), ("0.5", False)],
        ids=["v1.0-blocking", "v0.5-blocking", "v1.0-polling", "v0.5-polling"],
    )
    def make_rig(self, request):
        style, blocking = request.param
        make, rigs = _factory(lambda **kw: sangaboard_rig(style=style, blocking=blocking, **kw)[0])
        yield make
        for rig in rigs:
            rig.shutdown()
