"""Small value types shared across focuscam.

Units: every focus position ``z`` inside focuscam is in micrometres (um) unless a name or
docstring says otherwise (stacks keep their own ``z_unit``; drives convert to their native
units: GRBL millimetres, motor steps, UVC focus units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import InputError

if TYPE_CHECKING:  # numpy is imported by the callers that make frames, not by the CLI parser
    import numpy as np

__all__ = ["ROI", "FocusState", "Frame", "ZLimits", "ZUnit", "json_number"]


def json_number(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN and infinities): JSON has neither."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class ROI(NamedTuple):
    """A region of interest in pixels, like an OpenCV ``Rect``: ``(x, y, w, h)``."""

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def parse(cls, text: str, *, param: str = "--roi") -> ROI:
        """Parse ``"x,y,w,h"`` (four non-negative integers) into an :class:`ROI`."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4 or min(values) < 0:
            raise InputError(
                f"{param} {text!r} is not x,y,w,h: give four non-negative integers, e.g. 100,80,320,240"
            )
        return cls(*values)

    def __str__(self) -> str:
        """``"x,y,w,h"``: the command line's own syntax (messages print ROIs this way)."""
        return f"{self.x},{self.y},{self.w},{self.h}"


class FocusState:
    """The two states a focus search ends in."""

    FOCUSED = "focused"
    FAILED = "failed"


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    Attributes
    ----------
    pixels : ndarray
        The image, 2-D gray or 3-channel BGR; uint8, uint16 or float32.
    t : float
        Capture time in seconds of ``time.monotonic()`` (or of a virtual clock in replays),
        taken as close to the capture as the backend allows.
    seq : int
        Sequence number from the source, starting at 0.
    z : float or None
        Focus position in um when known (a drive is attached, or a replayed z-sweep).
    meta : dict
        Anything else the source knows (file name, backend timestamps, ...).
    """

    pixels: np.ndarray
    t: float
    seq: int
    z: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ZLimits:
    """Soft limits of a focus drive, in um (inclusive)."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo > self.hi:
            raise InputError(
                f"limits {self.lo},{self.hi} are not a range: give MIN,MAX in um with MIN <= MAX"
            )

    def contains(self, z_um: float) -> bool:
        """True when ``z_um`` lies within the limits (a tiny float tolerance allowed)."""
        eps = 1e-9 * max(1.0, abs(self.lo), abs(self.hi))
        return math.isfinite(z_um) and self.lo - eps <= z_um <= self.hi + eps

    @classmethod
    def parse(cls, text: str, *, param: str = "--limits") -> ZLimits:
        """Parse ``"MIN,MAX"`` (um)."""
        parts = str(text).split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise InputError(
                f"{param} {text!r} is not MIN,MAX: give two numbers in um, e.g. -500,500"
            ) from None
        return cls(lo, hi)


@dataclass(frozen=True)
class ZUnit:
    """The unit a z is *shown* in (positions stay um inside focuscam; the display converts).

    Attributes
    ----------
    name : str
        ``"um"``, ``"mm"``, ``"step"``, ``"index"``: a stack's own ``z_unit``.
    um_per_unit : float
        um in one unit (``mm``: 1000).
    """

    name: str = "um"
    um_per_unit: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.um_per_unit) and self.um_per_unit > 0):
            raise InputError(f"um_per_unit {self.um_per_unit!r} must be a positive number of um")

    def from_um(self, z_um: float | None) -> float | None:
        """``z_um`` (um) in this unit; None stays None."""
        return None if z_um is None else float(z_um) / self.um_per_unit

    def format(self, z_um: float | None, spec: str = ".6g") -> str:
        """``z_um`` (um) as text in this unit, e.g. ``"-50 mm"``; ``"unknown"`` for None."""
        z = self.from_um(z_um)
        return "unknown" if z is None or not math.isfinite(z) else f"{z:{spec}} {self.name}"
