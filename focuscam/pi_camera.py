"""Raspberry Pi cameras through picamera2: one opened ``Picamera2`` per camera, per process.

``picamera:N`` (source) and ``picamera-lens:N`` (drive) share the camera ``N``: a camera can be
opened only once, so the first user opens, configures (``create_video_configuration``, main
stream ``RGB888``, which picamera2 stores as B, G, R -- focuscam's order) and starts it, and the
last one to release it stops and closes it.

picamera2 installs only on Raspberry Pi OS (``sudo apt install python3-picamera2``); it is
imported here on first use, and elsewhere ``picamera:`` fails with one line saying so.

Times: picamera2's ``SensorTimestamp`` (ns, ``CLOCK_BOOTTIME``: when the first row of the
frame started its exposure) is mapped onto ``time.monotonic()`` seconds with the offset
between the two clocks measured when the camera was opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._shared import SharedDevices
from .errors import InputError, SourceError

__all__ = ["acquire_camera", "boottime_to_monotonic", "camera_index", "manual_af_mode"]

INSTALL_HINT = (
    "picamera2 installs on Raspberry Pi OS only (sudo apt install python3-picamera2); "
    "elsewhere use camera:0 (V4L2/OpenCV)"
)

_cameras = SharedDevices()  # camera index -> (Picamera2, clock offset)


def camera_index(target: str, what: str) -> int:
    """The camera number of ``picamera:N`` / ``picamera-lens:N`` (``""`` = 0)."""
    text = str(target).strip() or "0"
    if not text.isdigit():
        raise InputError(f"{what} camera {target!r} is not a camera number: give e.g. {what}:0")
    return int(text)


def _clock_offset() -> float:
    """CLOCK_BOOTTIME minus CLOCK_MONOTONIC, in s (0 where there is no boot-time clock)."""
    boot = getattr(time, "CLOCK_BOOTTIME", None)
    if boot is None:
        return 0.0
    return time.clock_gettime(boot) - time.monotonic()


def boottime_to_monotonic(ns: int | float, offset: float) -> float:
    """A ``SensorTimestamp`` (ns of CLOCK_BOOTTIME) as ``time.monotonic()`` seconds."""
    return float(ns) / 1e9 - offset


def manual_af_mode() -> Any:
    """``controls.AfModeEnum.Manual`` from libcamera where available, else its value 0."""
    try:
        from libcamera import controls  # type: ignore[import-not-found]
    except ImportError:
        return 0
    return controls.AfModeEnum.Manual


def acquire_camera(
    index: int, *, size: tuple[int, int] | None = None
) -> tuple[Any, float, Callable[[], None]]:
    """The started ``Picamera2`` of camera ``index``, the clock offset, and a ``release()``.

    Raises
    ------
    InputError
        picamera2 is not installed (not Raspberry Pi OS).
    SourceError
        The camera does not open or start.
    """
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]
    except ImportError:
        raise InputError(f"picamera:{index} needs picamera2: {INSTALL_HINT}") from None

    def open_camera() -> tuple[Any, float]:
        try:
            cam = Picamera2(index)
            main: dict[str, Any] = {"format": "RGB888"}
            if size is not None:
                main["size"] = tuple(size)
            cam.configure(cam.create_video_configuration(main=main))
            cam.start()
        except Exception as exc:  # picamera2/libcamera raise RuntimeError, IndexError, ...
            raise SourceError(
                f"Raspberry Pi camera {index} does not open ({exc}): check the ribbon cable "
                f"and that no other program uses the camera"
            ) from None
        return cam, _clock_offset()

    def close_camera(opened: tuple[Any, float]) -> None:
        try:
            opened[0].stop()
        finally:
            opened[0].close()

    (cam, offset), release = _cameras.acquire(index, open_camera, close_camera)
    return cam, offset, release
