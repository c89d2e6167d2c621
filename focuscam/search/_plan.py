"""Where a search may go: a strategy's checked limits, resolution, drive grid and window.

Pure functions for :class:`~focuscam.search.base.SearchStrategy`: :func:`check_options` checks
the options every strategy shares, :func:`snap` puts a proposal inside the limits and on the
drive's step grid, :func:`recentre` moves the window towards a peak at its edge,
:func:`widest_gap` picks the free grid point farthest from the samples and
:func:`nearest_plane` says which of a replayed stack's planes a position shows. No state, I/O
or threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = [
    "MODES",
    "StrategyOptions",
    "check_number",
    "check_options",
    "check_planes",
    "free_plane",
    "known_sample",
    "nearest_plane",
    "recentre",
    "snap",
    "widest_gap",
]

#: Peak-fit modes: ``"max"`` (sharpest = highest score) and ``"brightfield"`` (the focal plane of
#: a transparent object is the contrast minimum between two maxima).
MODES = ("max", "brightfield")


def check_number(value: Any, param: str) -> float:
    """``value`` as a finite float; an :class:`~focuscam.errors.InputError` naming ``param`` if not."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{param} {value!r} is not a number: give a finite number") from None
    if not math.isfinite(number):
        raise InputError(f"{param} {value!r} is not finite: give a finite number")
    return number


@dataclass(frozen=True)
class StrategyOptions:
    """The checked options every search strategy shares (see :func:`check_options`).

    Attributes
    ----------
    lo, hi : float
        Limits in um, ``lo < hi``.
    mode : str
        One of :data:`MODES`.
    resolution : float
        The smallest step in um worth taking: at least one grid step, at most ``hi - lo``.
    grid_um : float
        The drive's step grid in um (0 = continuous).
    start : float
        The current position in um, inside the limits.
    window : (float, float)
        The first range to search, in um, inside the limits.
    max_recentre : int
        How many times a peak at the edge of the window may move the window.
    min_snr : float
        The factor of the significance rule (> 0).
    curve_width_um : float or None
        The rig's calibrated focus-curve width in um, if known.
    """

    lo: float
    hi: float
    mode: str
    resolution: float
    grid_um: float
    start: float
    window: tuple[float, float]
    max_recentre: int
    min_snr: float
    curve_width_um: float | None


def check_options(
    lo: Any,
    hi: Any,
    mode: str,
    resolution: Any,
    start: Any,
    window: Any,
    max_recentre: Any,
    min_snr: Any,
    curve_width_um: Any,
    grid_um: Any,
) -> StrategyOptions:
    """Check the options of :class:`~focuscam.search.base.SearchStrategy` (its parameters and
    their defaults) in the order given; fill in the defaults.

    Raises
    ------
    InputError
        On the first option that is not a number, out of range or unknown.
    """
    lo = check_number(lo, "lo")
    hi = check_number(hi, "hi")
    if not lo < hi:
        raise InputError(f"limits lo={lo} um, hi={hi} um are not a range: give lo < hi")
    if mode not in MODES:
        raise InputError(f"mode {mode!r} is unknown: use one of {', '.join(MODES)}")
    if resolution is None:
        resolution = (hi - lo) / 200.0
    resolution = check_number(resolution, "resolution")
    if resolution <= 0:
        raise InputError(f"resolution {resolution} um must be > 0: give the smallest useful step")
    grid = check_number(grid_um, "grid_um")
    if grid < 0:
        raise InputError(f"grid_um {grid_um!r} must be >= 0 (0 = a continuous drive)")
    resolution = min(max(resolution, grid), hi - lo)
    if start is None:
        start = 0.5 * (lo + hi)
    start = check_number(start, "start")
    if not lo <= start <= hi:
        raise InputError(f"start {start} um lies outside the limits [{lo}, {hi}] um: start inside them")
    if window is None:
        window = (lo, hi)
    try:
        wlo, whi = (check_number(w, "window") for w in window)
    except (TypeError, ValueError):
        raise InputError(f"window {window!r} is not (lo, hi): give two numbers in um") from None
    if not (lo <= wlo < whi <= hi):
        raise InputError(f"window {wlo},{whi} um is not a range inside the limits [{lo}, {hi}] um: shrink it")
    if int(max_recentre) != max_recentre or max_recentre < 0:
        raise InputError(f"max_recentre {max_recentre!r} must be an integer >= 0")
    min_snr = check_number(min_snr, "min_snr")
    if min_snr <= 0:
        raise InputError(f"min_snr {min_snr} must be > 0, e.g. 6")
    if curve_width_um is not None:
        curve_width_um = check_number(curve_width_um, "curve_width_um")
        if curve_width_um <= 0:
            raise InputError(f"curve_width_um {curve_width_um} must be > 0 um: run focuscam calibrate")
    return StrategyOptions(
        lo, hi, mode, resolution, grid, start, (wlo, whi), int(max_recentre), min_snr, curve_width_um
    )


def check_planes(planes_um: Any) -> np.ndarray | None:
    """``planes_um`` (the positions, um, of the only distinct frames a source shows) as a sorted
    float array of distinct finite positions, or None; an
    :class:`~focuscam.errors.InputError` if it is not one."""
    if planes_um is None:
        return None
    try:
        planes = np.unique(np.asarray(planes_um, dtype=float).reshape(-1))
    except (TypeError, ValueError):
        raise InputError(f"planes_um {planes_um!r} is not a list of positions in um") from None
    if planes.size < 2 or not np.all(np.isfinite(planes)):
        raise InputError("planes_um needs at least 2 distinct finite positions in um (or None)")
    return planes


def nearest_plane(planes: np.ndarray, z: Any) -> np.ndarray:
    """Index of the plane (``planes`` sorted, um) a replayed stack shows at ``z`` (um, scalar or
    array): the nearest one, a position halfway between two planes showing the upper one, and
    the end planes beyond the ends (the rule of :meth:`focuscam.twin.TwinSource.render`)."""
    z = np.asarray(z, dtype=float)
    j = np.clip(np.searchsorted(planes, z), 1, planes.size - 1)
    lo, hi = planes[j - 1], planes[j]
    return np.where(z - lo >= 0.5 * (hi - lo), j, j - 1)


def known_sample(zs: Any, z: float, resolution: float, planes: np.ndarray | None) -> int | None:
    """Index of a sample among the positions ``zs`` (um) that stands for a frame at ``z`` (um):
    the nearest one when it lies within half the ``resolution``, else, with the source's
    ``planes`` (um, sorted; None for a camera), the first one that shows the same plane as
    ``z`` (:func:`nearest_plane`); None when there is none."""
    if len(zs) == 0:
        return None
    zs = np.asarray(zs, dtype=float)
    i = int(np.argmin(np.abs(zs - z)))
    if abs(zs[i] - z) < 0.5 * resolution:
        return i
    if planes is not None:
        same = np.flatnonzero(nearest_plane(planes, zs) == nearest_plane(planes, z))
        if same.size:
            return int(same[0])
    return None


def free_plane(
    planes: np.ndarray, z: np.ndarray, wlo: float, whi: float, scored: Callable[[float], bool]
) -> float | None:
    """The plane (um) of a replayed stack (``planes`` sorted, um) inside ``[wlo, whi]`` that no
    sample shows yet (not ``scored``) and lies farthest from every sample ``z`` (um), the one
    nearer the window's middle on a tie; None when every plane inside is shown."""
    inside = planes[(planes >= wlo - 1e-9) & (planes <= whi + 1e-9)]
    free = [float(p) for p in inside if not scored(float(p))]
    if not free:
        return None
    return max(free, key=lambda p: (_nearest(z, p), -abs(p - 0.5 * (wlo + whi))))


def _grid_range(lo: float, hi: float, step: float) -> tuple[int, int]:
    """The first and last index ``k`` of the grid points ``k * step`` inside ``[lo, hi]``."""
    return math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)


def snap(z: float, lo: float, hi: float, grid_um: float) -> float:
    """Where a proposal of ``z`` (um) really goes: inside ``[lo, hi]``, on the drive's grid of
    ``grid_um`` (0 = a continuous drive)."""
    # numerical safety only: plans are built inside the limits, rounding may step 1 ulp out
    z = min(max(float(z), lo), hi)
    if grid_um > 0:  # a stepped drive: plan on its grid, inside the limits
        g = grid_um
        kmin, kmax = _grid_range(lo, hi, g)
        if kmin <= kmax:
            z = min(max(min(max(round(z / g), kmin), kmax) * g, lo), hi)
    return z


def recentre(wlo: float, whi: float, side: int, lo: float, hi: float) -> tuple[float, float] | None:
    """The window ``[wlo, whi]`` moved half its width towards ``side`` (-1 low, +1 high), kept
    inside the limits ``[lo, hi]`` (um); ``None`` when it already reaches that limit."""
    width = whi - wlo
    if side < 0:
        if wlo <= lo:
            return None
        wlo = max(lo, wlo - width / 2)
        whi = min(hi, wlo + width)
    else:
        if whi >= hi:
            return None
        whi = min(hi, whi + width / 2)
        wlo = max(lo, whi - width)
    return wlo, whi


def _nearest(z: np.ndarray, g: float) -> float:
    return float(np.min(np.abs(z - g))) if z.size else math.inf


def widest_gap(
    z: np.ndarray, wlo: float, whi: float, step: float, scored: Callable[[float], bool]
) -> float | None:
    """The free point of the drive's grid of ``step`` um inside ``[wlo, whi]`` farthest from
    every sample ``z`` (um), if any; a point is free when not ``scored`` and half a step from
    every sample."""
    kmin, kmax = _grid_range(wlo, whi, step)
    grid = step * np.arange(kmin, kmax + 1)
    free = [g for g in grid if not scored(float(g)) and _nearest(z, g) >= 0.5 * step]
    if not free:
        return None
    return float(max(free, key=lambda g: (_nearest(z, g), -abs(g - 0.5 * (wlo + whi)))))
