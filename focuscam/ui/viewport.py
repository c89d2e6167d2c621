"""Frames for the screen: any frame to uint8 BGR, and the viewport that maps it to the window.

- :func:`to_display` turns any frame (gray or BGR; uint8, uint16 or float32) into uint8 BGR;
  16-bit and float frames get an auto-contrast percentile stretch (:func:`stretch_limits`).
- :class:`Viewport` maps frame pixels to display pixels and back (the mouse uses it);
  :func:`fit_viewport` fits a frame into a box, keeping its aspect ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..types import ROI

__all__ = ["Viewport", "blit_frame", "fit_viewport", "stretch_limits", "to_display"]


def _check_frame(pixels: Any) -> np.ndarray:
    if not isinstance(pixels, np.ndarray):
        raise InputError(f"frame is a {type(pixels).__name__}, not a numpy array: pass the frame's pixels")
    if pixels.ndim not in (2, 3):
        raise InputError(f"frame has {pixels.ndim} dimensions: give a 2-D gray or 3-D colour image")
    if pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4):
        raise InputError(f"frame has {pixels.shape[2]} channels: give 1 (gray), 3 (BGR) or 4 (BGRA)")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise InputError(f"frame of shape {pixels.shape} is empty: give at least one pixel")
    if pixels.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InputError(f"frame dtype {pixels.dtype} is not shown: give uint8, uint16 or float32")
    return pixels


def stretch_limits(pixels: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """The display range ``(lo, hi)`` of a frame: its ``low_pct`` and ``high_pct`` percentiles.

    Computed on a strided subsample of at most about 250 000 pixels (NaNs ignored), so a few hot
    pixels do not decide the contrast. ``hi > lo`` always (a flat frame gets ``hi = lo + 1``).
    """
    pixels = _check_frame(pixels)
    if not 0 <= low_pct < high_pct <= 100:
        raise InputError(f"percentiles {low_pct}, {high_pct} are not 0 <= low < high <= 100")
    h, w = pixels.shape[:2]
    step = max(1, int(math.sqrt(h * w / 250_000)))
    sample = pixels[::step, ::step].astype(np.float64, copy=False).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def to_display(
    pixels: np.ndarray, *, low_pct: float = 0.5, high_pct: float = 99.5, stretch_8bit: bool = False
) -> np.ndarray:
    """A uint8 BGR image for display.

    uint8 frames are shown as they are (gray expanded to BGR, BGRA without alpha) unless
    ``stretch_8bit``; uint16 and float frames are stretched linearly so that the ``low_pct``
    percentile maps to 0 and the ``high_pct`` percentile to 255 (values beyond are saturated,
    NaN shows black).
    """
    pixels = _check_frame(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype == np.uint8 and not stretch_8bit:
        out = pixels
    else:
        lo, hi = stretch_limits(pixels, low_pct, high_pct)
        scaled = (pixels.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
        out = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    if out.ndim == 2:
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if out.shape[2] == 4:
        return cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class Viewport:
    """Where a frame is drawn: display = offset + frame * scale.

    Attributes
    ----------
    scale : float
        Display pixels per frame pixel.
    ox, oy : int
        Display position of the frame's top-left corner.
    frame_w, frame_h : int
        Frame size in pixels.
    """

    scale: float
    ox: int
    oy: int
    frame_w: int
    frame_h: int

    @property
    def size(self) -> tuple[int, int]:
        """Display size ``(w, h)`` of the drawn frame."""
        return max(1, round(self.frame_w * self.scale)), max(1, round(self.frame_h * self.scale))

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """Display point -> frame point (pixels, not clipped)."""
        return (x - self.ox) / self.scale, (y - self.oy) / self.scale

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """Frame point -> display point."""
        return self.ox + x * self.scale, self.oy + y * self.scale

    def contains(self, x: float, y: float) -> bool:
        """True when the display point lies on the drawn frame."""
        w, h = self.size
        return self.ox <= x < self.ox + w and self.oy <= y < self.oy + h

    def roi_corners(self, roi: ROI) -> tuple[tuple[int, int], tuple[int, int]]:
        """Display corners (top-left, bottom-right, inclusive) of a frame ROI."""
        x0, y0 = self.to_display(roi.x, roi.y)
        x1, y1 = self.to_display(roi.x + roi.w, roi.y + roi.h)
        return (round(x0), round(y0)), (max(round(x0), round(x1) - 1), max(round(y0), round(y1) - 1))


def fit_viewport(frame_w: int, frame_h: int, box_w: int, box_h: int, *, x: int = 0, y: int = 0) -> Viewport:
    """The largest uniform scale that fits a ``frame_w x frame_h`` frame in a box, centred in it."""
    if min(frame_w, frame_h, box_w, box_h) <= 0:
        raise InputError(f"sizes must be positive: frame {frame_w}x{frame_h}, box {box_w}x{box_h}")
    scale = min(box_w / frame_w, box_h / frame_h)
    w, h = max(1, round(frame_w * scale)), max(1, round(frame_h * scale))
    return Viewport(scale, x + (box_w - w) // 2, y + (box_h - h) // 2, frame_w, frame_h)


def blit_frame(canvas: np.ndarray, image: np.ndarray, vp: Viewport) -> None:
    w, h = vp.size
    interp = cv2.INTER_AREA if vp.scale < 1 else cv2.INTER_NEAREST
    scaled = (
        image
        if (w, h) == (image.shape[1], image.shape[0])
        else cv2.resize(image, (w, h), interpolation=interp)
    )
    canvas[vp.oy : vp.oy + h, vp.ox : vp.ox + w] = scaled
