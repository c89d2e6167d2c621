"""Soft limits and the step grid, as plain functions (um throughout): the pieces of
:class:`~focuscam.drives.base.FocusDrive` that need no drive (the CLI checks a request
against the limits with them before it opens a port)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputError, LimitError
from ..types import ZLimits

__all__ = ["as_limits", "grid_span", "outside_limits"]


def as_limits(limits: Any, *, param: str = "limits") -> ZLimits:
    """Turn a :class:`ZLimits`, a ``(lo, hi)`` pair or a ``"lo,hi"`` string (um) into ZLimits."""
    if isinstance(limits, ZLimits):
        return limits
    if limits is None:
        raise InputError(f"{param} are required: give MIN,MAX in um, e.g. limits=(-500, 500)")
    if isinstance(limits, str):
        return ZLimits.parse(limits, param=param)
    try:
        lo, hi = (float(v) for v in limits)
    except (TypeError, ValueError):
        raise InputError(
            f"{param} {limits!r} is not MIN,MAX: give two numbers in um, e.g. (-500, 500)"
        ) from None
    return ZLimits(lo, hi)


def grid_span(lo_um: float, hi_um: float, res_um: float) -> tuple[int, int]:
    """The first and last grid index ``k`` (``k * res_um``) inside ``[lo_um, hi_um]``.

    A grid point counts as inside when it is within 1e-9 of a step of the limit (float
    round-off of a point that is exactly on it); ``first > last`` when none is inside.
    """
    kmin = math.ceil(lo_um / res_um - 1e-9)
    kmax = math.floor(hi_um / res_um + 1e-9)
    return kmin, kmax


def outside_limits(what: str, lim: ZLimits) -> LimitError:
    """The LimitError for a request (``what``, e.g. ``"a move to 6000 um"``) outside ``lim``."""
    return LimitError(
        f"{what} is outside the soft limits [{lim.lo:g}, {lim.hi:g}] um: "
        f"choose a z inside them or widen the limits"
    )


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            import numpy as np

            if isinstance(value, np.floating | np.integer):
                value = float(value)
            else:
                raise TypeError
        except TypeError:
            raise InputError(f"{name} {value!r} is not a number: give a finite number in um") from None
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} {value!r} is not finite: give a finite number in um")
    return value
