"""The live window (OpenCV HighGUI): drawing (:mod:`.render`), state and input (:mod:`.state`)
and the thin window loop (:mod:`.window`). Drawing and input only: every action goes to the
engine through a :class:`~focuscam.ui.state.UiActions` adapter.
"""

from __future__ import annotations

__all__ = ["EngineActions", "UiActions", "UiState", "monitor_window", "run_window"]


def __getattr__(name: str):
    if name in ("UiActions", "UiState"):
        from . import state

        return getattr(state, name)
    if name == "EngineActions":
        from .actions import EngineActions

        return EngineActions
    if name == "monitor_window":
        from .live import monitor_window

        return monitor_window
    if name == "run_window":
        from .window import run_window

        return run_window
    raise AttributeError(f"module 'focuscam.ui' has no attribute {name!r}")
