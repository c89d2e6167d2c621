"""A webcam's focus control (UVC ``focus_absolute``) driven through OpenCV.

Units: positions are the camera's **focus units** as the driver exposes them through
``CAP_PROP_FOCUS``; for this drive "um" in the :class:`~focuscam.drives.base.FocusDrive`
interface means focus units (they are not micrometres of anything physical).

- Autofocus is switched off (``CAP_PROP_AUTOFOCUS`` = 0) when the drive opens, and read back.
- Limits: OpenCV does not expose the V4L2 control range portably, so by default the range is
  *probed*: UVC drivers clamp out-of-range values, so setting a very low and a very high focus
  and reading them back gives the range (the original focus is restored). Pass ``limits`` to
  skip probing (required for backends that refuse out-of-range values instead of clamping).
- Every set value is read back; a mismatch larger than ``tolerance`` raises a DeviceError
  (the driver clamped or rounded it) and the position must be re-synchronised.
- A set returns at once but the lens still moves: ``settle_s`` (default 0.2 s) is waited
  after each move before the position is read back.
- The camera is shared with the frame source: pass the source's ``cv2.VideoCapture`` (or any
  object with ``get``/``set``) as ``camera``; the drive then never releases it. ``uvc:CAMERA``
  opens its own capture (index or device path) and releases it on close.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DeviceError, InputError
from .base import FocusDrive, _finite

__all__ = ["UvcFocusDrive"]

_PROBE = 1e6


def _props() -> tuple[int, int]:
    import cv2

    return int(cv2.CAP_PROP_AUTOFOCUS), int(cv2.CAP_PROP_FOCUS)


class UvcFocusDrive(FocusDrive):
    """Focus of a UVC webcam through OpenCV; positions in focus units (here "um" = focus unit).

    Parameters
    ----------
    camera : str, int or VideoCapture-like
        A camera index (``0``, ``"0"``), a device path (``/dev/video0``) or an open capture
        object with ``get(prop)`` and ``set(prop, value)`` shared with the frame source.
    limits : ZLimits or (float, float) or str or None
        Focus range in focus units; None probes it (see the module docs).
    backlash_um, approach
        See :class:`~focuscam.drives.base.FocusDrive` (in focus units).
    settle_s : float
        Seconds waited after each set for the lens to get there (default 0.2).
    tolerance : float
        Largest accepted difference between the set and the read-back focus (focus units).
    resolution_um : float
        The camera's focus step in focus units when known (V4L2 ``focus_absolute`` step, often
        1); targets are then quantised to it inside the limits. 0 (default) = not known.
    """

    scheme = "uvc"

    def __init__(
        self,
        camera: Any,
        *,
        limits: Any = None,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.2,
        tolerance: float = 0.5,
        resolution_um: float = 0.0,
    ) -> None:
        self._owned = False
        self._cap = self._open(camera)
        self._af_prop, self._focus_prop = _props()
        self._tol = _finite(tolerance, "tolerance")
        try:
            self._disable_autofocus()
            if limits is None:
                limits = self._probe_range()
            super().__init__(
                limits=limits,
                backlash_um=backlash_um,
                approach=approach,
                settle_s=settle_s,
                resolution_um=resolution_um,
            )
            self.spec = f"uvc:{camera}" if isinstance(camera, str | int) else "uvc:<capture>"
            self._record(self._now(), self._get_focus())
        except BaseException:
            if self._owned:
                self._cap.release()
            raise

    # ------------------------------------------------------------------ camera access
    def _open(self, camera: Any) -> Any:
        if hasattr(camera, "get") and hasattr(camera, "set"):
            return camera
        if isinstance(camera, bool) or not isinstance(camera, str | int):
            raise InputError(
                f"camera {camera!r} is not a camera: give an index, a device path or a VideoCapture"
            )
        from ..sources._capture import open_capture  # OpenCV's own log lines silenced

        target: int | str = int(camera) if isinstance(camera, int) or camera.isdigit() else camera
        cap = open_capture(target)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(
                f"cannot open camera {camera!r} for its focus control: check that it is plugged in, "
                "and the index or path (ls /dev/video*)"
            )
        self._owned = True
        return cap

    def _get_focus(self) -> float:
        value = float(self._cap.get(self._focus_prop))
        if not math.isfinite(value) or value == -1.0:
            raise DeviceError("the camera did not report its focus (CAP_PROP_FOCUS): is it still connected?")
        return value

    def _set_focus(self, value: float) -> None:
        if not self._cap.set(self._focus_prop, float(value)):
            raise DeviceError(
                f"the camera refused focus {value:g} (CAP_PROP_FOCUS): no focus control or camera gone"
            )

    def _disable_autofocus(self) -> None:
        ok = self._cap.set(self._af_prop, 0)
        if not ok or float(self._cap.get(self._af_prop)) != 0.0:
            raise DeviceError(
                "the camera did not switch autofocus off (CAP_PROP_AUTOFOCUS=0): "
                "it may have no manual focus control"
            )

    def _probe_range(self) -> tuple[float, float]:
        original = self._get_focus()
        if not self._cap.set(self._focus_prop, -_PROBE):
            raise DeviceError(
                "the camera refused an out-of-range focus while probing: give limits=(MIN, MAX)"
            )
        lo = self._get_focus()
        if not self._cap.set(self._focus_prop, _PROBE):
            raise DeviceError(
                "the camera refused an out-of-range focus while probing: give limits=(MIN, MAX)"
            )
        hi = self._get_focus()
        self._set_focus(original)
        if not lo < hi or abs(lo) >= _PROBE or abs(hi) >= _PROBE:
            raise DeviceError(
                f"probing the focus range gave [{lo:g}, {hi:g}], not a clamped range: give limits=(MIN, MAX)"
            )
        return lo, hi

    # ------------------------------------------------------------------ hooks
    def _move_to(self, z_um: float) -> None:
        self._set_focus(z_um)
        got = self._get_focus()
        if abs(got - z_um) > self._tol:
            raise DeviceError(
                f"the camera set focus {got:g} instead of {z_um:g} (clamped or rounded by its driver): "
                f"use limits inside the control's range and steps it supports, then resync"
            )

    def _read_position(self) -> float:
        return self._get_focus()

    def _stop(self) -> None:
        # a focus set is a single control write: there is no motion in progress to halt
        return

    def _close(self) -> None:
        if self._owned:
            self._cap.release()
