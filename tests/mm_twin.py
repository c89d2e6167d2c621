"""A real MMCore (pymmcore-plus UniMMCore) holding focuscam's twin devices, for the mm tests."""

from __future__ import annotations

from conftest import REPO

TARGET = REPO / "recordings" / "target_color"
CELLS16 = REPO / "recordings" / "cells_gray16"
CFG = REPO / "recordings" / "mm_twin.cfg"


def twin_core(stack=TARGET, *, blend=1, **stage_props):
    """A UniMMCore with a TwinCamera on ``stack`` and a TwinStage "Z" (focus device)."""
    from pymmcore_plus.experimental.unicore import UniMMCore

    from focuscam.mm_devices import TwinCamera, TwinStage

    core = UniMMCore()
    core.loadPyDevice("Camera", TwinCamera())
    core.loadPyDevice("Z", TwinStage())
    core.setProperty("Camera", "Stack", str(stack))
    core.initializeAllDevices()
    core.setProperty("Camera", "Blend", blend)
    core.setCameraDevice("Camera")
    core.setFocusDevice("Z")
    core.setAutoShutter(False)  # no shutter in the twin
    core.setProperty("Z", "Speed", 5000.0)
    for name, value in stage_props.items():
        core.setProperty("Z", name, value)
    return core
