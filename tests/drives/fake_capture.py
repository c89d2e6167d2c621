"""A stand-in for ``cv2.VideoCapture``'s focus controls (there is no camera on this machine).

It behaves like the Linux UVC driver behind OpenCV: ``CAP_PROP_FOCUS`` is clamped to the
control's range and rounded to its step (e.g. a C920: 0..250, step 5), focus writes are
refused while autofocus is on, and an unplugged camera refuses sets and reads -1.
"""

from __future__ import annotations

import cv2


class FakeFocusCapture:
    def __init__(self, lo: float = 0.0, hi: float = 250.0, step: float = 5.0, focus: float = 0.0) -> None:
        self.lo, self.hi, self.step = lo, hi, step
        self.autofocus = 1.0
        self.focus = focus
        self.unplugged = False
        self.released = False
        self.focus_writes: list[float] = []

    def isOpened(self) -> bool:
        return not self.released

    def get(self, prop: int) -> float:
        if self.unplugged or self.released:
            return -1.0
        if prop == cv2.CAP_PROP_AUTOFOCUS:
            return self.autofocus
        if prop == cv2.CAP_PROP_FOCUS:
            return self.focus
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        if self.unplugged or self.released:
            return False
        if prop == cv2.CAP_PROP_AUTOFOCUS:
            self.autofocus = 1.0 if value else 0.0
            return True
        if prop == cv2.CAP_PROP_FOCUS:
            if self.autofocus:
                return False
            self.focus_writes.append(float(value))
            clamped = min(self.hi, max(self.lo, float(value)))
            self.focus = self.lo + round((clamped - self.lo) / self.step) * self.step
            return True
        return False

    def release(self) -> None:
        self.released = True
