"""The shared drive contract against the AVR build running in simavr: the exact ELF that
``make flash`` writes to an Uno/Nano, on an emulated ATmega328P, its UART bridged to a pty."""

from __future__ import annotations

import pytest
from drives.contract import DriveContract

from .rigs import factory

pytestmark = [pytest.mark.firmware, pytest.mark.avr, pytest.mark.slow]


class TestAvrFirmwareContract(DriveContract):
    @pytest.fixture
    def make_rig(self):
        make, rigs = factory("avr")
        yield make
        for rig in rigs:
            rig.shutdown()
