"""Soft limits and the step grid, as plain functions (um throughout): the pieces of
:class:`~focuscam.drives.base.FocusDrive` that need no drive (the CLI checks a request
against the limits with them before it opens a port)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputError, LimitError
from ..types import ZLimits

__all__ = ["as_limits", "backlash_overshoot", "grid_span", "outside_limits", "quantise_inside"]


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


def quantise_inside(z_um: float, lim: ZLimits, res_um: float, what: str, spec: str) -> float:
    """The grid point (um) nearest ``z_um`` that lies inside ``lim`` (``res_um`` 0: ``z_um``).

    Raises LimitError when ``z_um`` is outside the limits (``what`` names the request) or no
    point of the ``res_um`` grid of the drive ``spec`` is inside them.
    """
    if not lim.contains(z_um):
        raise outside_limits(what, lim)
    if res_um <= 0:
        return z_um
    kmin, kmax = grid_span(lim.lo, lim.hi, res_um)
    if kmin > kmax:
        raise LimitError(
            f"no step of the {res_um:g} um grid of {spec} lies inside the soft limits "
            f"[{lim.lo:g}, {lim.hi:g}] um: widen the limits to at least one step"
        )
    k = min(max(round(z_um / res_um), kmin), kmax)
    # k * res may differ from a limit that is exactly on the grid by float round-off only
    return min(max(k * res_um, lim.lo), lim.hi)


def backlash_overshoot(
    current_um: float | None, z_um: float, backlash_um: float, approach: int, last_dir: int
) -> float | None:
    """Where a move from ``current_um`` to ``z_um`` must first overshoot to (um), or None.

    Every final approach comes from the ``approach`` side (+1: from lower z); the overshoot is
    needed when the move ends in the other direction, when it is shorter than the backlash and
    the mechanism was last driven the other way (``last_dir``), or when the start is unknown.
    """
    if backlash_um <= 0:
        return None
    if current_um is None:
        need = True
    else:
        delta = (z_um - current_um) * approach  # > 0: moving in the approach direction
        engaged = last_dir == approach
        need = delta < 0 or (delta < backlash_um and not engaged and delta != 0)
        if delta == 0 and not engaged:
            need = True
    return z_um - approach * backlash_um if need else None


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
