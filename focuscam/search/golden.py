"""``golden``: golden-section search for the maximum score over a bracket, to a tolerance."""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..errors import InputError
from .base import SearchStrategy, register_strategy

__all__ = ["Golden"]

_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...


@register_strategy
class Golden(SearchStrategy):
    """Golden-section search: a bracketed minimiser of minus the score.

    Assumes one peak inside the window (use ``sweep`` or ``coarse-fine`` when the curve may have
    several). Only ``mode="max"``.

    Parameters
    ----------
    tolerance : float, optional
        Stop when the bracket is narrower than this, in um; default the ``resolution``.
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "golden"
    modes = ("max",)

    def __init__(self, *, tolerance: float | None = None, **common) -> None:
        super().__init__(**common)
        if self.mode != "max":
            raise InputError("strategy 'golden' needs one peak (mode 'max'): use coarse-fine or sweep")
        if tolerance is None:
            tolerance = self.resolution
        if not float(tolerance) > 0:
            raise InputError(f"tolerance {tolerance!r} um must be > 0")
        self.tolerance = float(tolerance)

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        a, b = wlo, whi
        # the two ends first, so that a peak at an edge is seen (and re-centred) by the fit
        yield from self._score(a)
        yield from self._score(b)
        c = b - _INV_PHI * (b - a)
        d = a + _INV_PHI * (b - a)
        fc = yield from self._score(c)
        fd = yield from self._score(d)
        while b - a > self.tolerance and (d - c) > 0.5 * self.resolution:
            if fc >= fd:
                b, d, fd = d, c, fc
                c = b - _INV_PHI * (b - a)
                fc = yield from self._score(c)
            else:
                a, c, fc = c, d, fd
                d = a + _INV_PHI * (b - a)
                fd = yield from self._score(d)
