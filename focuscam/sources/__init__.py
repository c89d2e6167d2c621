"""Frame sources: frames in, each with its capture time (``time.monotonic()`` seconds).

- :class:`FrameSource`: the contract (context manager, iterator, ``read``, ``fresh_frame``, ``close``).
- :class:`CameraSource`: ``cv2.VideoCapture`` on a camera index, device path, URL or video file,
  grabbed on a background thread that keeps only the newest frames.
- :class:`ReplaySource`: a recorded stack replayed at its recorded times or a given fps.
- :class:`MMCoreSource`: a Micro-Manager camera (pymmcore-plus); :class:`PicameraSource`: a
  Raspberry Pi camera (picamera2).
- :func:`open_source`: a source from a command-line spec (``camera:0``, ``video:FILE``,
  ``replay:STACK_DIR``, ...).

The camera and replay modules (OpenCV, stacks) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import FrameSource, SourceWarning, StreamEnded

__all__ = [
    "CameraSource",
    "FrameSource",
    "MMCoreSource",
    "PicameraSource",
    "ReplaySource",
    "SourceWarning",
    "StreamEnded",
    "open_source",
]

_LAZY = {
    "CameraSource": ".camera",
    "ReplaySource": ".replay",
    "MMCoreSource": ".mmcore",
    "PicameraSource": ".picamera",
    "open_source": ".spec",
    "SPEC_FORMS": ".spec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
