"""focuscam: real-time camera autofocus and focus-plane selection.

The data flow, top to bottom: sources (frames in) -> measures (frame -> score) ->
search (pure strategies) -> drives (focus out), wired by the autofocus controller;
stacks and replay feed the sources; the CLI sits on top.

The public API is imported lazily so that ``import focuscam`` (and the CLI's ``--help``)
does not pay for numba and OpenCV until a measure is really used.
"""

from __future__ import annotations

from ._lazy import lazy_api

__version__ = "0.1.0.dev0"

# public name -> module that defines it
_API = {
    "measure": "focuscam.measures",
    "focus_map": "focuscam.measures",
    "blur_report": "focuscam.measures",
    "MEASURES": "focuscam.measures",
    "BlurReport": "focuscam.measures",
    "resolve_bin": "focuscam.measures",
    "load_stack": "focuscam.stacks",
    "save_stack": "focuscam.stacks",
    "Stack": "focuscam.stacks",
    "StackWriter": "focuscam.stacks",
    "select_plane": "focuscam.select",
    "PlaneResult": "focuscam.select",
    "select_many": "focuscam.batch",
    "find_stacks": "focuscam.archive",
    "StackResult": "focuscam.batch",
    "ROI": "focuscam.types",
    "Frame": "focuscam.types",
    "ZLimits": "focuscam.types",
    "FocuscamError": "focuscam.errors",
    "InputError": "focuscam.errors",
    "DeviceError": "focuscam.errors",
    "LimitError": "focuscam.errors",
    "open_drive": "focuscam.drives",
    "FocusDrive": "focuscam.drives",
    "load_rig": "focuscam.rig",
    "Rig": "focuscam.rig",
    "open_source": "focuscam.sources",
    "FrameSource": "focuscam.sources",
    "CameraSource": "focuscam.sources",
    "ReplaySource": "focuscam.sources",
    "Monitor": "focuscam.monitor",
    "MonitorSample": "focuscam.monitor",
    "record": "focuscam.recorder",
    "Autofocus": "focuscam.autofocus",
    "AutofocusResult": "focuscam.autofocus",
    "make_strategy": "focuscam.search",
    "STRATEGIES": "focuscam.search",
    "SearchResult": "focuscam.search",
    "TwinSource": "focuscam.twin",
    "make_twin": "focuscam.twin",
}

__all__ = ["__version__", *sorted(_API)]


__getattr__, __dir__ = lazy_api("focuscam", _API, globals(), extra=("__version__",))
