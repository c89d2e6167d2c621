"""A Micro-Manager camera (through pymmcore-plus) as a focuscam frame source.

``mm:PATH/TO/MMConfig.cfg`` reads the core's camera, ``mm:CFG#Label`` another camera;
``open_source(core)`` reads the camera of a ``CMMCorePlus`` you already have (closing the
source does not unload it).

Every :meth:`MMCoreSource.read` snaps a new image (``snapImage`` + ``getImage``): its capture
begins after ``read`` was called, so :meth:`~focuscam.sources.base.FrameSource.fresh_frame`
after a move returns the first image snapped once the drive reported the move finished (the
fresh-frame guarantee). Colour images (RGB in Micro-Manager) become BGR, focuscam's order;
8- and 16-bit gray stay as they are, other depths become float32. ``roi`` sets the camera's
ROI (``setROI``) and ``exposure_ms`` its exposure for as long as the source is open.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from ..errors import InputError, SourceError
from ..mmcore import first_line, open_target
from ..types import ROI, Frame
from .base import FrameSource, check_timeout

__all__ = ["MMCoreSource"]


def to_focuscam_pixels(img: np.ndarray) -> np.ndarray:
    """A Micro-Manager image as focuscam pixels: gray uint8/uint16 kept, RGB(A) to BGR, else float32."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = np.ascontiguousarray(a[:, :, 2::-1])
    if a.dtype not in (np.uint8, np.uint16, np.float32):
        a = a.astype(np.float32)
    return a


class MMCoreSource(FrameSource):
    """Frames snapped from a Micro-Manager camera.

    Parameters
    ----------
    target : CMMCorePlus or str
        A core, or ``CFG`` / ``CFG#Label`` (a configuration file opened once per process).
    camera : str, optional
        The camera's device label (default: the label after ``#``, else the core's camera).
    roi : ROI or (x, y, w, h) or str, optional
        Camera ROI in pixels, set on the camera while the source is open.
    exposure_ms : float, optional
        Exposure in ms, set on the camera while the source is open.
    timeout_s : float
        Stored as :attr:`default_timeout` (a snap blocks until the camera delivers).
    """

    def __init__(
        self,
        target: Any,
        *,
        camera: str | None = None,
        roi: Any = None,
        exposure_ms: float | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._closed = False
        self._release = lambda: None
        self.default_timeout = check_timeout(timeout_s, "timeout_s")
        if exposure_ms is not None and (
            isinstance(exposure_ms, bool) or not isinstance(exposure_ms, int | float) or not exposure_ms > 0
        ):
            raise InputError(f"exposure_ms {exposure_ms!r} must be a number of milliseconds > 0")
        if isinstance(roi, str):
            roi = ROI.parse(roi, param="roi")
        self.core, self._release, label = open_target(target, camera, what="source")
        self._lock = threading.Lock()
        self._seq = 0
        self._set_roi = False
        try:
            self.camera = self._resolve_camera(label)
            self.name = f"Micro-Manager camera {self.camera}"
            if exposure_ms is not None:
                self._do("setting the exposure", self.core.setExposure, self.camera, float(exposure_ms))
            if roi is not None:
                x, y, w, h = (int(v) for v in roi)
                self._do("setting the ROI", self.core.setROI, self.camera, x, y, w, h)
                self._set_roi = True
        except BaseException:
            self._release()
            raise

    def _resolve_camera(self, label: str | None) -> str:
        from pymmcore_plus import DeviceType

        core = self.core
        if label is None:
            label = core.getCameraDevice()
            if not label:
                raise InputError(
                    "the Micro-Manager core has no camera: set Core-Camera in the configuration "
                    "or name it with mm:CFG#Label"
                )
        if label not in core.getLoadedDevices() or core.getDeviceType(label) != DeviceType.Camera:
            cams = ", ".join(core.getLoadedDevicesOfType(DeviceType.Camera)) or "none is loaded"
            raise InputError(f"Micro-Manager camera {label!r} is not loaded: use one of {cams}")
        if core.getCameraDevice() != label:
            core.setCameraDevice(label)
        return str(label)

    def _do(self, doing: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # the core and adapters raise RuntimeError and others
            raise SourceError(
                f"Micro-Manager camera {getattr(self, 'camera', '?')} failed {doing}: {first_line(exc)}; "
                f"check the camera"
            ) from None

    # ------------------------------------------------------------------ contract
    def read(self, timeout: float | None = None) -> Frame:
        """Snap one image now and return it (``meta``: ``t_start``, ``camera``, ``exposure_ms``)."""
        check_timeout(timeout)
        with self._lock:
            if self._closed:
                raise SourceError(f"{self.name} is closed: open the source again")
            core = self.core
            t_start = time.monotonic()
            self._do("snapping an image", core.snapImage)
            img = self._do("reading the image", core.getImage)
            t = time.monotonic()
            exposure = self._do("reading the exposure", core.getExposure)
            seq = self._seq
            self._seq += 1
            z = None
            focus = core.getFocusDevice()
            if focus:
                try:
                    z = float(core.getPosition(focus))
                except Exception:  # z is optional metadata
                    z = None
        meta = {"t_start": t_start, "camera": self.camera, "exposure_ms": float(exposure)}
        return Frame(pixels=to_focuscam_pixels(img), t=t, seq=seq, z=z, meta=meta)

    def close(self) -> None:
        """Undo the ROI set here and release the core (unloaded when nobody else uses it)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self._set_roi:
                self.core.clearROI()
        except Exception:  # the core may already be gone
            pass
        self._release()

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the camera's images (its ROI), in pixels."""
        if self._closed:
            return None
        return int(self.core.getImageWidth()), int(self.core.getImageHeight())

    @property
    def fps(self) -> float | None:
        """None: frames are snapped on demand, not paced."""
        return None

    @property
    def dropped(self) -> int:
        """0: nothing is captured that is not read."""
        return 0
