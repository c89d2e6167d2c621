"""A stand-in for picamera2 (Raspberry Pi OS only) following its documented API, for tests.

It implements what focuscam uses -- ``Picamera2(camera_num)``, ``camera_controls``,
``create_video_configuration``, ``configure``, ``start``, ``stop``, ``close``,
``capture_request`` (``make_array``, ``get_metadata``, ``release``), ``capture_metadata``,
``set_controls``, ``camera_configuration`` -- on a recorded z-sweep: the lens position in
dioptres (``LensPosition`` 0..10, a Camera Module 3's range) maps linearly onto the stack's z
range, a lens move takes several frames (the VCM moves ``LENS_STEP`` dioptres per frame, as
reported in each frame's metadata), and ``SensorTimestamp`` is the CLOCK_BOOTTIME nanosecond
at which a frame's exposure began. Pixels are served B, G, R like picamera2's ``RGB888``.

Configure it with the module attributes ``STACK`` (a stack path; default: the environment
variable ``FAKE_PICAMERA2_STACK``), ``HAS_LENS`` and ``LENS_STEP``.
"""

from __future__ import annotations

import os
import time

import numpy as np

STACK = os.environ.get("FAKE_PICAMERA2_STACK", "")
HAS_LENS = True
LENS_STEP = 0.75  # dioptres per frame
LENS_RANGE = (0.0, 10.0)
_in_use: set[int] = set()
opened: list = []


class CompletedRequest:
    def __init__(self, array: np.ndarray, metadata: dict) -> None:
        self._array, self._metadata, self.released = array, metadata, False

    def make_array(self, name: str) -> np.ndarray:
        assert name == "main" and not self.released
        return self._array

    def get_metadata(self) -> dict:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        if camera_num in _in_use:
            raise RuntimeError(f"Camera {camera_num} is already in use")
        from focuscam.stacks import load_stack

        _in_use.add(camera_num)
        opened.append(self)
        self.camera_num = camera_num
        self.stack = load_stack(STACK)
        z = np.asarray(self.stack.z, float)
        self._order = np.argsort(z)
        self._z = z[self._order]
        self.camera_controls = {
            "ExposureTime": (75, 1_000_000, 10_000),
            "AnalogueGain": (1.0, 16.0, 1.0),
        }
        if HAS_LENS:
            self.camera_controls["LensPosition"] = (*LENS_RANGE, 1.0)
            self.camera_controls["AfMode"] = (0, 2, 0)
        self.controls = {"ExposureTime": 10_000, "AnalogueGain": 1.0, "AfMode": 2}
        self.lens = 1.0
        self.target = 1.0
        self.started = False
        self.closed = False
        self.config = None
        self.frames = 0
        self.set_controls_calls: list[dict] = []

    def create_video_configuration(self, main=None, **kwargs) -> dict:
        h, w = self.stack.image(0).shape[:2]
        main = dict(main or {})
        main.setdefault("format", "XBGR8888")
        main.setdefault("size", (w, h))
        return {"use_case": "video", "main": main, **kwargs}

    def configure(self, config: dict) -> None:
        assert not self.started, "configure() while started"
        self.config = config

    def camera_configuration(self) -> dict:
        return self.config

    def start(self) -> None:
        assert self.config is not None, "start() before configure()"
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True
        _in_use.discard(self.camera_num)

    def set_controls(self, controls: dict) -> None:
        for key in controls:
            if key not in self.camera_controls:
                raise RuntimeError(f"Control {key} is not advertised by libcamera")
        self.set_controls_calls.append(dict(controls))
        self.controls.update(controls)
        if "LensPosition" in controls:
            if int(self.controls.get("AfMode", 2)) != 0:
                return  # libcamera ignores LensPosition unless AfMode is manual
            self.target = float(controls["LensPosition"])

    def _next_frame(self) -> tuple[np.ndarray | None, dict]:
        assert self.started, "capture before start()"
        t0 = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        d = self.target - self.lens
        self.lens += max(-LENS_STEP, min(LENS_STEP, d))
        self.frames += 1
        md = {
            "SensorTimestamp": t0,
            "ExposureTime": int(self.controls["ExposureTime"]),
            "AnalogueGain": float(self.controls["AnalogueGain"]),
            "DigitalGain": 1.0,
            "FrameDuration": 33333,
        }
        if HAS_LENS:
            md["LensPosition"] = self.lens
        return md

    def _pixels(self) -> np.ndarray:
        lo, hi = LENS_RANGE
        z = self._z[0] + (self.lens - lo) / (hi - lo) * (self._z[-1] - self._z[0])
        k = int(np.argmin(np.abs(self._z - z)))
        img = self.stack.image(int(self._order[k]))
        fmt = self.config["main"]["format"]
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if fmt in ("XBGR8888", "XRGB8888"):
            img = np.concatenate([img, np.full((*img.shape[:2], 1), 255, img.dtype)], axis=2)
        return img

    def capture_request(self) -> CompletedRequest:
        md = self._next_frame()
        return CompletedRequest(self._pixels(), md)

    def capture_metadata(self) -> dict:
        return self._next_frame()
