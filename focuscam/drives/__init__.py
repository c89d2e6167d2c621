"""Focus drives: one safe interface over a simulated stage, GRBL, Sangaboard and UVC focus.

Positions are in micrometres (um) throughout. Open a drive with :func:`open_drive`::

    with open_drive("grbl:/dev/ttyUSB0", limits=(-500, 500), backlash_um=20) as drive:
        z = drive.move_to(120.0)   # waits until the motion has finished; returns read-back um

See :mod:`focuscam.drives.base` for the contract and the subclass hooks.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import FocusDrive
from .clock import VirtualClock, WallClock
from .spec import open_drive

__all__ = [
    "FirmwareDrive",
    "FocusDrive",
    "GrblDrive",
    "MMCoreDrive",
    "PicameraLensDrive",
    "SangaboardDrive",
    "SimulatedDrive",
    "UvcFocusDrive",
    "VirtualClock",
    "WallClock",
    "open_drive",
]

_LAZY = {
    "SimulatedDrive": "focuscam.drives.sim",
    "GrblDrive": "focuscam.drives.grbl",
    "SangaboardDrive": "focuscam.drives.sangaboard",
    "UvcFocusDrive": "focuscam.drives.uvc",
    "FirmwareDrive": "focuscam.drives.firmware",
    "MMCoreDrive": "focuscam.drives.mmcore",
    "PicameraLensDrive": "focuscam.drives.picamera_lens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'focuscam.drives' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
