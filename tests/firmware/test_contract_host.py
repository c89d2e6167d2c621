"""The shared drive contract (tests/drives/contract.py) against the host build of the firmware:
FirmwareDrive -> pyserial -> pty proxy -> pty -> the C++ core compiled for the host."""

from __future__ import annotations

import pytest
from drives.contract import DriveContract

from .rigs import factory

pytestmark = pytest.mark.firmware


class TestHostFirmwareContract(DriveContract):
    @pytest.fixture
    def make_rig(self):
        make, rigs = factory("host")
        yield make
        for rig in rigs:
            rig.shutdown()
