"""``brent``: Brent's bracketed maximisation (golden sections and parabolic steps) to a tolerance.

Brent's method (R. P. Brent, *Algorithms for Minimization without Derivatives*, 1973, ch. 5)
keeps a bracket ``[a, b]`` and the three best points seen; it takes a parabolic step through
them when that step is well inside the bracket and shrinks fast enough, and a golden-section
step otherwise. It stops when the best point lies within ``2 * tolerance`` of the bracket's
middle and the bracket is at most ``4 * tolerance`` wide. Here it maximises the score.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..errors import InputError
from .base import SearchStrategy, register_strategy

__all__ = ["Brent", "brent_max"]

_GOLD = 0.5 * (3.0 - math.sqrt(5.0))  # 0.381966...


def brent_max(a: float, b: float, tolerance: float, score) -> Iterator[float]:
    """Generator of Brent's maximisation over ``[a, b]``: yields positions, ``score(z)`` reads back.

    ``score`` is called right after each yield with the yielded position and must return the
    score observed there (the caller scores between the two).
    """
    x = w = v = a + _GOLD * (b - a)
    yield x
    fx = fw = fv = -score(x)
    d = e = 0.0
    while True:
        m = 0.5 * (a + b)
        tol1 = tolerance
        tol2 = 2.0 * tol1
        if abs(x - m) <= tol2 - 0.5 * (b - a):
            return
        parabolic = False
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0:
                p = -p
            else:
                q = -q
            r, e = e, d
            if abs(p) < abs(0.5 * q * r) and q * (a - x) < p < q * (b - x):
                d = p / q
                u = x + d
                if u - a < tol2 or b - u < tol2:
                    d = tol1 if x < m else -tol1
                parabolic = True
        if not parabolic:
            e = (b - x) if x < m else (a - x)
            d = _GOLD * e
        u = x + (d if abs(d) >= tol1 else math.copysign(tol1, d))
        u = min(max(u, a), b)
        yield u
        fu = -score(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu <= fv or v in (x, w):
                v, fv = u, fu


@register_strategy
class Brent(SearchStrategy):
    """Brent's bracketed maximisation of the score over the window, to a tolerance.

    Assumes one peak inside the window (use ``model`` or ``coarse-fine`` when the curve may have
    several). In ``brightfield`` mode it minimises the score (the contrast minimum; the window
    should then hold only the dip). The two window ends are scored after Brent converges (its
    samples crowd the peak; the ends give the significance test its flanks). The result is the
    peak fit over every sample, tested with the one significance rule.

    Parameters
    ----------
    tolerance : float, optional
        Absolute tolerance in um (Brent's ``tol``); default half the ``resolution``.
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "brent"

    def __init__(self, *, tolerance: float | None = None, **common) -> None:
        super().__init__(**common)
        if tolerance is None:
            tolerance = 0.5 * self.resolution
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError):
            raise InputError(f"tolerance {tolerance!r} is not a number of um") from None
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise InputError(f"tolerance {tolerance!r} um must be > 0")
        self.tolerance = tolerance

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        sign = 1.0 if self.mode == "max" else -1.0

        def score(z: float) -> float:
            known = self._score_at(z)
            return sign * (known if known is not None else self._last_score())

        for z in brent_max(wlo, whi, self.tolerance, score):
            if self._score_at(z) is None:
                yield z
        # the two window ends last: flanks for the significance test (and a peak at an edge
        # is seen, so the window is re-centred)
        for z in sorted((wlo, whi), key=lambda e: abs(e - self._z[-1])):
            yield from self._score(z)
