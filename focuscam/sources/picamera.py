"""A Raspberry Pi camera (picamera2) as a focuscam frame source: ``picamera:N``.

Every :meth:`PicameraSource.read` takes the next request from the camera
(``capture_request``): its pixels (``make_array("main")``, B, G, R) and its metadata. The
frame's ``meta["t_start"]`` is the request's ``SensorTimestamp`` (start of the exposure) on the
``time.monotonic()`` clock, so :meth:`~focuscam.sources.base.FrameSource.fresh_frame` after a
move skips every frame whose exposure began before the move finished. ``meta`` also carries
``exposure_us``, ``analogue_gain``, ``digital_gain`` and ``lens_dioptres`` where the camera
reports them. ``exposure_us`` and ``gain`` set manual exposure (``ExposureTime``,
``AnalogueGain``) while the source is open.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from ..errors import InputError, SourceError
from ..pi_camera import acquire_camera, boottime_to_monotonic, camera_index
from ..types import Frame
from .base import FrameSource, check_timeout

__all__ = ["PicameraSource"]

_META = {
    "ExposureTime": "exposure_us",
    "AnalogueGain": "analogue_gain",
    "DigitalGain": "digital_gain",
    "LensPosition": "lens_dioptres",
}


class PicameraSource(FrameSource):
    """Frames from a Raspberry Pi camera through picamera2.

    Parameters
    ----------
    target : str
        The camera number (``"0"``).
    width, height : int, optional
        Size of the main stream (default: picamera2's video default).
    exposure_us : float, optional
        Manual exposure time in microseconds.
    gain : float, optional
        Manual analogue gain.
    timeout_s : float
        :attr:`default_timeout`.
    """

    def __init__(
        self,
        target: str = "0",
        *,
        width: int | None = None,
        height: int | None = None,
        exposure_us: float | None = None,
        gain: float | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self._closed = False
        self.index = camera_index(target, "picamera")
        self.name = f"Raspberry Pi camera {self.index}"
        self.default_timeout = check_timeout(timeout_s, "timeout_s")
        if (width is None) != (height is None):
            raise InputError("give both width and height of the picamera stream, or neither")
        size = None if width is None else (int(width), int(height))  # type: ignore[arg-type]
        controls: dict[str, Any] = {}
        for key, value, what in (
            ("ExposureTime", exposure_us, "exposure_us"),
            ("AnalogueGain", gain, "gain"),
        ):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InputError(f"{what} {value!r} must be a number > 0")
            controls[key] = int(value) if key == "ExposureTime" else float(value)
        self.cam, self._offset, self._release = acquire_camera(self.index, size=size)
        self._lock = threading.Lock()
        self._seq = 0
        if controls:
            try:
                self.cam.set_controls(controls)
            except Exception as exc:
                self._release()
                raise SourceError(f"{self.name} refused {controls}: {exc}") from None

    def read(self, timeout: float | None = None) -> Frame:
        """The next frame of the camera, with its metadata (``meta["t_start"]`` from SensorTimestamp)."""
        check_timeout(timeout)
        with self._lock:
            if self._closed:
                raise SourceError(f"{self.name} is closed: open the source again")
            try:
                request = self.cam.capture_request()
            except Exception as exc:
                raise SourceError(f"{self.name} delivered no frame ({exc}): check the camera") from None
            try:
                pixels = np.asarray(request.make_array("main"))
                md = dict(request.get_metadata())
            finally:
                request.release()
            t_recv = time.monotonic()
            seq = self._seq
            self._seq += 1
        if pixels.ndim == 3 and pixels.shape[2] == 4:  # XRGB8888: B, G, R, X
            pixels = np.ascontiguousarray(pixels[:, :, :3])
        ts = md.get("SensorTimestamp")
        t_start = boottime_to_monotonic(ts, self._offset) if ts is not None else t_recv
        meta: dict[str, Any] = {"t_start": t_start, "sensor_timestamp_ns": ts}
        for key, name in _META.items():
            if key in md:
                meta[name] = float(md[key])
        return Frame(pixels=pixels, t=t_recv, seq=seq, meta=meta)

    def close(self) -> None:
        """Release the camera (stopped and closed when no drive uses it either)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the main stream."""
        try:
            w, h = self.cam.camera_configuration()["main"]["size"]
        except Exception:
            return None
        return int(w), int(h)

    @property
    def fps(self) -> float | None:
        """None: the camera's frame rate is its own (see ``FrameDuration`` in the metadata)."""
        return None

    @property
    def dropped(self) -> int:
        """0: picamera2 queues the newest requests itself."""
        return 0
