"""``sweep``: evenly spaced positions over the window, then a peak fit."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from .base import SearchStrategy, register_strategy

__all__ = ["Sweep", "plan_line"]


def plan_line(wlo: float, whi: float, points: int, near: float) -> list[float]:
    """``points`` evenly spaced positions (um) over ``[wlo, whi]``, starting at the end nearest ``near``."""
    zs = [float(z) for z in np.linspace(wlo, whi, points)]
    if abs(near - whi) < abs(near - wlo):
        zs.reverse()
    return zs


@register_strategy
class Sweep(SearchStrategy):
    """Score evenly spaced positions over the window, then fit the peak.

    Parameters
    ----------
    points : int, optional
        How many positions; default one per ``resolution`` (um) across the window, at most 201.
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "sweep"
    uniform_samples = True
    steps_option = "points"

    def __init__(self, *, points: int | None = None, **common) -> None:
        super().__init__(**common)
        if points is not None and (int(points) != points or points < 3):
            raise InputError(f"points {points!r} must be an integer >= 3")
        self.points = None if points is None else int(points)

    def _points_for(self, wlo: float, whi: float) -> int:
        if self.points is not None:
            return self.points
        return int(min(201, max(3, round((whi - wlo) / self.resolution) + 1)))

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        near = self._z[-1] if self._z else self.start
        for z in plan_line(wlo, whi, self._points_for(wlo, whi), near):
            yield from self._score(z)
