"""The focus motor of a Raspberry Pi camera (Camera Module 3) as a focus drive: ``picamera-lens:N``.

Positions are **dioptres** (libcamera's ``LensPosition``: 1/m of focus distance, 0 = infinity),
not um: like ``uvc:`` focus units, the unit is the camera's own. The soft limits default to the
``LensPosition`` control limits the camera reports (``camera_controls``) and must lie inside
them. A move sets ``AfMode`` manual and ``LensPosition``, then counts frames from their
metadata: it has finished when ``settle_frames`` consecutive frames report a ``LensPosition``
within ``tolerance`` of the target (never a sleep); no such frames within ``max_frames`` is a
:class:`~focuscam.errors.DeviceTimeout` and the position is then unknown.
The lens has no motion to halt mid-way: :meth:`stop` ends the wait for frames.
"""

from __future__ import annotations

from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError
from ..pi_camera import acquire_camera, camera_index, manual_af_mode
from ..types import ZLimits
from .base import FocusDrive, as_limits

__all__ = ["PicameraLensDrive"]


class PicameraLensDrive(FocusDrive):
    """The lens of a Raspberry Pi camera; positions in dioptres.

    Parameters
    ----------
    target : str
        The camera number (``"0"``).
    limits : (float, float), optional
        Soft limits in dioptres, inside the camera's ``LensPosition`` limits (default: those).
    backlash_um : float
        Backlash compensation, in dioptres here (VCM lenses have none: default 0).
    settle_frames : int
        Consecutive frames at the target that end a move (default 2).
    tolerance : float
        How close (dioptres) a frame's reported LensPosition must be to the target (default 0.02).
    max_frames : int
        Frames to wait for the lens before the move fails (default 60).
    """

    scheme = "picamera-lens"

    def __init__(
        self,
        target: str = "0",
        *,
        limits: Any = None,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_frames: int = 2,
        tolerance: float = 0.02,
        max_frames: int = 60,
        clock: Any = None,
    ) -> None:
        index = camera_index(target, "picamera-lens")
        for name, value in (("settle_frames", settle_frames), ("max_frames", max_frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} {value!r} must be an integer >= 1")
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not tolerance > 0:
            raise InputError(f"tolerance {tolerance!r} must be a number of dioptres > 0")
        cam, _, release = acquire_camera(index)
        try:
            lo, hi, _default = cam.camera_controls["LensPosition"]
        except (KeyError, TypeError, ValueError):
            release()
            raise InputError(
                f"Raspberry Pi camera {index} has no focus motor (no LensPosition control): "
                f"use a camera with one (Camera Module 3) or another drive"
            ) from None
        hw = ZLimits(float(lo), float(hi))
        chosen = hw if limits is None else as_limits(limits)
        if not (hw.contains(chosen.lo) and hw.contains(chosen.hi)):
            release()
            raise InputError(
                f"limits [{chosen.lo:g}, {chosen.hi:g}] dioptres leave the lens range "
                f"[{hw.lo:g}, {hw.hi:g}] of camera {index}: narrow them"
            )
        try:
            super().__init__(limits=chosen, backlash_um=backlash_um, approach=approach, clock=clock)
        except BaseException:
            release()
            raise
        self.cam, self._release, self.index = cam, release, index
        self.settle_frames, self.tolerance, self.max_frames = settle_frames, float(tolerance), max_frames
        self.spec = f"picamera-lens:{index}"
        self.frames_waited = 0  # frames counted by the last move
        try:
            self.cam.set_controls({"AfMode": manual_af_mode()})
            self._record(self._now(), self._read_position())
        except Exception as exc:
            release()
            raise DeviceError(f"camera {index} refused manual focus (AfMode): {exc}") from None

    def _metadata_lens(self) -> float | None:
        try:
            md = self.cam.capture_metadata()
        except Exception as exc:
            raise DeviceError(
                f"camera {self.index} delivered no frame metadata ({exc}): check the camera"
            ) from None
        value = md.get("LensPosition")
        return None if value is None else float(value)

    def _move_to(self, z_um: float) -> None:
        try:
            self.cam.set_controls({"AfMode": manual_af_mode(), "LensPosition": float(z_um)})
        except Exception as exc:
            raise DeviceError(f"camera {self.index} refused LensPosition {z_um:g}: {exc}") from None
        at_target = 0
        for counted in range(1, self.max_frames + 1):
            if self._stop_event.is_set():
                return
            lens = self._metadata_lens()
            if lens is not None:
                self._record(self._now(), lens)
            at_target = at_target + 1 if lens is not None and abs(lens - z_um) <= self.tolerance else 0
            if at_target >= self.settle_frames:
                self.frames_waited = counted
                return
        raise DeviceTimeout(
            f"the lens of camera {self.index} did not report LensPosition {z_um:g} within "
            f"{self.max_frames} frames: check the camera (or raise max_frames), then resync"
        )

    def _read_position(self) -> float:
        lens = self._metadata_lens()
        if lens is None:
            raise DeviceError(f"camera {self.index} reports no LensPosition in its metadata")
        return lens

    def _stop(self) -> None:
        pass  # the base's stop event ends the frame count; the lens itself moves in one step

    def _close(self) -> None:
        self._release()
