"""``coarse-fine``: a coarse sweep with an early stop, then a fine search around the peak.

The coarse sweep starts at the window end nearest the current position and stops early once
two successive scores have fallen well below the best so far (the contrast-drop rule of
libcamera and Micro-Manager's JAF, taken relative to the lowest score seen so that it also
works on curves with a high floor). The fine stage halves a step around the coarse peak: at each
level it scores the two neighbours at +-step and moves to the best of the three, until the step
is below the resolution. Positions already scored (within half the resolution) are not scored
again. In ``brightfield`` mode the coarse sweep always runs to the end (the focal plane is the
minimum between two maxima) and the fine stage looks for the lowest score.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from .base import SearchStrategy, register_strategy
from .sweep import plan_line

__all__ = ["CoarseFine"]


@register_strategy
class CoarseFine(SearchStrategy):
    """Coarse sweep with an early stop, then a step-halving fine search (the default strategy).

    Parameters
    ----------
    coarse_points : int, optional
        Positions of the full coarse sweep over the window. Default: a coarse step of at least
        8 ``resolution`` steps, with 5 to 9 positions (5 on a window of 40 steps, 9 from 64
        steps up), so that short ranges are not over-sampled.
    drop : float
        Early-stop level in (0, 1): stop once two successive scores after the best lie below
        ``floor + drop * (best - floor)`` (default 0.5).
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "coarse-fine"

    def __init__(self, *, coarse_points: int | None = None, drop: float = 0.5, **common) -> None:
        super().__init__(**common)
        if coarse_points is not None and (int(coarse_points) != coarse_points or coarse_points < 3):
            raise InputError(f"coarse_points {coarse_points!r} must be an integer >= 3")
        if not 0.0 < float(drop) < 1.0:
            raise InputError(f"drop {drop!r} must lie between 0 and 1, e.g. 0.5")
        self.coarse_points = None if coarse_points is None else int(coarse_points)
        self.drop = float(drop)

    def _coarse_points(self, wlo: float, whi: float) -> int:
        if self.coarse_points is not None:
            return self.coarse_points
        steps = (whi - wlo) / self.resolution
        return int(min(9, max(5, steps // 8 + 1)))

    def _coarse(self, wlo: float, whi: float) -> Iterator[float]:
        near = self._z[-1] if self._z else self.start
        plan = plan_line(wlo, whi, self._coarse_points(wlo, whi), near)
        scores: list[float] = []
        for z in plan:
            scores.append((yield from self._score(z)))
            if self.mode != "max" or len(scores) < 3:
                continue
            best = int(np.argmax(scores))
            floor = min(scores)
            level = floor + self.drop * (scores[best] - floor)
            after = scores[best + 1 :]
            if scores[best] > floor and len(after) >= 2 and after[-1] < level and after[-2] < level:
                return

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        yield from self._coarse(wlo, whi)
        step = (whi - wlo) / (self._coarse_points(wlo, whi) - 1)
        sign = 1.0 if self.mode == "max" else -1.0
        fit = self._fit()
        in_window = [(z, s) for z, s in zip(self._z, self._s, strict=True) if wlo <= z <= whi]
        if fit is not None and fit.z is not None and np.isfinite(fit.z) and wlo <= fit.z <= whi:
            centre = float(fit.z)
        else:
            centre = max(in_window, key=lambda p: sign * p[1])[0]
        if (fit is None or getattr(fit, "state", "") == "failed") and self.mode == "max":
            # no clear peak: refine around the best sample instead of a doubtful fit
            centre = max(in_window, key=lambda p: p[1])[0]
        step /= 2.0
        centre_score = yield from self._score(centre)
        while step >= 0.75 * self.resolution:
            best_z, best_s = centre, centre_score
            for z in (centre - step, centre + step):
                if not wlo <= z <= whi:
                    continue
                known = yield from self._score(z)
                if sign * known > sign * best_s:
                    best_z, best_s = z, known
            centre, centre_score = best_z, best_s
            step /= 2.0
