"""Opening an OpenCV capture quietly, and the one-line error when it does not open."""

from __future__ import annotations

import os
from typing import Any

from ..errors import FocuscamError, InputError, SourceError

__all__ = ["open_capture", "open_failed"]


def open_capture(device: int | str, api: int | None = None) -> Any:
    """Open a ``cv2.VideoCapture`` with OpenCV's and FFmpeg's own log output silenced.

    focuscam reports a failed open in one line of its own, so OpenCV's ``[ WARN]`` lines and
    FFmpeg's (``moov atom not found``, ``Connection refused``) are not shown. FFmpeg's level
    is set once per process through ``OPENCV_FFMPEG_LOGLEVEL`` (-8: quiet) unless already set.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    log = cv2.utils.logging
    old = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        cap = cv2.VideoCapture(device) if api is None else cv2.VideoCapture(device, api)
    finally:
        log.setLogLevel(old)
    return cap


def open_failed(kind: str, name: str, device: int | str) -> FocuscamError:
    """The one-line error for a capture that did not open, with advice that fits its kind.

    A file that is not a video is bad input (exit 2); a stream points at its address and the
    network; a camera at its cable, other programs and ``ls /dev/video*``.
    """
    if kind == "file":
        return InputError(
            f"video {device} is not a video OpenCV can decode: give a video file (e.g. MP4, AVI), "
            "or a stack folder as replay:DIR"
        )
    if kind == "url":
        return SourceError(
            f"{name} did not open: check the address (scheme, host, port, path, credentials) and "
            "that this machine reaches it over the network"
        )
    return SourceError(
        f"{name} did not open: check that it is plugged in, that no other program uses it, and "
        "the index or path (ls /dev/video*)"
    )
