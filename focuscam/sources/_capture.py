"""Opening an OpenCV capture quietly, the one-line error when it does not open, and the open
capture shared by a source's grab thread and its caller (:class:`Capture`)."""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

from ..errors import FocuscamError, InputError, SourceError

__all__ = ["PROPERTIES", "Capture", "check_settings", "open_capture", "open_failed"]

#: Settable camera properties -> the name of their ``cv2.CAP_PROP_*`` constant.
PROPERTIES = {
    "width": "CAP_PROP_FRAME_WIDTH",
    "height": "CAP_PROP_FRAME_HEIGHT",
    "fps": "CAP_PROP_FPS",
    "exposure": "CAP_PROP_EXPOSURE",
    "gain": "CAP_PROP_GAIN",
    "autofocus": "CAP_PROP_AUTOFOCUS",
    "focus": "CAP_PROP_FOCUS",
}


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


def check_settings(values: dict[str, object]) -> dict[str, float]:
    """The camera properties asked at open (None: not asked), checked, as floats.

    Parameters
    ----------
    values : dict
        Property name (one of :data:`PROPERTIES`) -> the value asked, or None.

    Raises
    ------
    InputError
        A value that is not a finite number (a bool only for ``autofocus``).
    """
    asked: dict[str, float] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) and key != "autofocus":
            raise InputError(f"{key} {value!r} must be a number")
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"{key} {value!r} must be a finite number")
        asked[key] = float(value)
    return asked


class Capture:
    """An open ``cv2.VideoCapture``, shared by a source's grab thread and its caller behind one lock.

    Parameters
    ----------
    device : int or str
        Camera index, device path, URL or video file, as ``cv2.VideoCapture`` takes it.
    api : int or None
        A ``cv2.CAP_*`` backend; None: OpenCV chooses.
    kind : {"camera", "url", "file"}
        What ``device`` is, for the advice of the error when it does not open.
    name : str
        The source's name (e.g. ``"camera 0"``), for the same error.

    Raises
    ------
    InputError
        A file that is not a video OpenCV can decode.
    SourceError
        A camera or URL that does not open.
    """

    def __init__(self, device: int | str, api: int | None, kind: str, name: str) -> None:
        self.device = device
        self.api = api
        self._lock = threading.Lock()
        self._cap = open_capture(device, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise open_failed(kind, name, device)

    def get(self, const: str) -> float:
        """The value of the property ``cv2.<const>`` (e.g. ``"CAP_PROP_FPS"``), in the driver's units."""
        import cv2

        with self._lock:
            return float(self._cap.get(getattr(cv2, const)))

    def set(self, const: str, value: float) -> tuple[bool, float]:
        """Set the property ``cv2.<const>``: whether the driver accepted it, and the value read back."""
        import cv2

        prop = getattr(cv2, const)
        with self._lock:
            accepted = bool(self._cap.set(prop, float(value)))
            got = float(self._cap.get(prop))
        return accepted, got

    def grab(self) -> tuple[Any, float, float] | None:
        """Grab and decode the next frame: ``(image, t, pos_msec)``, or None when none came.

        ``t`` is ``time.monotonic()`` right after ``grab()`` returned, before the slower
        ``retrieve()`` decodes the frame; ``pos_msec`` is the backend's ``CAP_PROP_POS_MSEC``.
        """
        import cv2

        img = None
        with self._lock:
            ok = self._cap.grab()
            t = time.monotonic()
            if ok:
                ok, img = self._cap.retrieve()
                pos = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if not ok or img is None:
            return None
        return img, t, pos

    def reopen(self, asked: dict[str, float]) -> bool:
        """Release the capture and open the device again; True when it opened.

        The properties ``asked`` (name in :data:`PROPERTIES` -> value) are set again on the new
        capture, without reading them back (mismatches were reported at the first open).
        """
        cap = open_capture(self.device, self.api)
        with self._lock:
            self._cap.release()
            self._cap = cap
        if not cap.isOpened():
            return False
        import cv2

        with self._lock:
            for key, value in asked.items():
                cap.set(getattr(cv2, PROPERTIES[key]), value)
        return True

    def release(self) -> None:
        """Release the device (safe to call twice)."""
        with self._lock:
            self._cap.release()
