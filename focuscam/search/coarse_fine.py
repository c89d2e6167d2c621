"""``coarse-fine``: a coarse sweep with an early stop, then a fine search around the peak.

The coarse sweep starts at the window end nearest the current position and stops early once
two successive scores have fallen well below the best so far (the contrast-drop rule of
libcamera and Micro-Manager's JAF, taken relative to the lowest score seen so that it also
works on curves with a high floor), provided the best stands clearly above that lowest score
(:data:`MIN_CONTRAST` of the best): on the flat far-defocus tail of a sharp peak, differences
of a few percent are noise, and a "drop" there would end the sweep before it reached the
peak. The fine stage first scores the peak fitted to all samples
(:func:`~focuscam.search.peak.fit_peak`) and refits (at most twice, stopping when the fit stands
still); then it spends the rest of a frame budget (default a quarter of a full sweep at the
resolution) on a step-halving search around the peak: at each level it scores the two
neighbours at +-step and moves to the best of the three, until the step is below the
resolution; on wide ranges, budget still left is spread evenly over the top of the curve (the
samples above half the peak's height). The final fit over every sample averages the noise of a
flat or noisy top.
Positions already scored (within half the resolution) are not scored again. In
``brightfield`` mode the coarse sweep always runs to the end (the focal plane is the minimum
between two maxima) and the fine stage looks for the lowest score.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..errors import InputError
from .base import SearchStrategy, register_strategy
from .sweep import plan_line

__all__ = ["MIN_CONTRAST", "CoarseFine"]

#: The coarse sweep's early stop needs the best score at least this fraction of itself above the
#: lowest score seen (a clear peak, not the few percent by which the scores of a flat
#: far-defocus tail differ from frame to frame).
MIN_CONTRAST = 0.2


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
    max_frames : int, optional
        Most frames one search pass scores (coarse and fine). Default: a third of the frames a
        full sweep at the ``resolution`` needs (at least the coarse points + 2).
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "coarse-fine"
    steps_option = "coarse_points"

    def __init__(
        self,
        *,
        coarse_points: int | None = None,
        drop: float = 0.5,
        max_frames: int | None = None,
        **common,
    ) -> None:
        super().__init__(**common)
        if max_frames is not None and (int(max_frames) != max_frames or max_frames < 3):
            raise InputError(f"max_frames {max_frames!r} must be an integer >= 3")
        self.max_frames = None if max_frames is None else int(max_frames)
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
            clear = scores[best] - floor >= MIN_CONTRAST * abs(scores[best])
            if clear and len(after) >= 2 and after[-1] < level and after[-2] < level:
                return

    def _budget(self, wlo: float, whi: float) -> int:
        """Frames one pass may score: ``max_frames``, or a quarter of a full sweep at the resolution."""
        if self.max_frames is not None:
            return self.max_frames
        sweep = round((whi - wlo) / self.resolution) + 1
        return int(max(math.ceil(sweep / 4), self._coarse_points(wlo, whi) + 2))

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        first = len(self._z)
        budget = self._budget(wlo, whi)

        def left() -> int:
            return budget - (len(self._z) - first)

        yield from self._coarse(wlo, whi)
        # 1. jump to the fitted peak and refit, until the fit stands still
        previous = None
        for _ in range(2):
            if left() <= 0:
                return
            fit = self._fit()
            if fit is None or fit.at_edge or not np.isfinite(fit.z) or fit.reason.startswith("flat"):
                return
            z = min(max(float(fit.z), wlo), whi)
            if self._score_at(z) is not None:
                break  # the fit sits on a scored position
            if previous is not None and abs(z - previous) < 0.5 * self.resolution:
                break
            yield from self._score(z)
            previous = z
        # 2. spend what is left of the budget on +-step around the peak, halving the step, so
        #    that the final fit averages the noise of a flat or noisy top
        sign = 1.0 if self.mode == "max" else -1.0
        fit = self._fit()
        if fit is None or not np.isfinite(fit.z):
            return
        centre = min(max(float(fit.z), wlo), whi)
        step = (whi - wlo) / (self._coarse_points(wlo, whi) - 1) / 2.0
        centre_score = self._score_at(centre)
        if centre_score is None:
            if left() <= 0:
                return
            centre_score = yield from self._score(centre)
        while step >= 0.75 * self.resolution:
            best_z, best_s = centre, centre_score
            for z in (centre - step, centre + step):
                if not wlo <= z <= whi:
                    continue
                known = self._score_at(z)
                if known is None:
                    if left() <= 0:
                        return
                    known = yield from self._score(z)
                if sign * known > sign * best_s:
                    best_z, best_s = z, known
            centre, centre_score = best_z, best_s
            step /= 2.0
        # 3. budget left (wide ranges): spread it evenly over the top of the curve (the samples
        #    above half the peak's height over the floor), where a noisy top needs averaging
        if self.mode != "max" or left() <= 0:
            return
        zs, ss = self._curve()
        inside = (zs >= wlo) & (zs <= whi)
        zs, ss = zs[inside], ss[inside]
        if zs.size < 3:
            return
        i = int(np.argmax(ss))
        half = ss.min() + 0.5 * (ss[i] - ss.min())
        a = b = i
        while a > 0 and ss[a - 1] >= half:
            a -= 1
        while b < zs.size - 1 and ss[b + 1] >= half:
            b += 1
        lo_top, hi_top = float(zs[max(a - 1, 0)]), float(zs[min(b + 1, zs.size - 1)])
        n = min(left(), int((hi_top - lo_top) / self.resolution) + 1)
        if n < 2:
            return
        for z in np.linspace(lo_top, hi_top, n):
            if left() <= 0:
                return
            if self._score_at(float(z)) is None:
                yield from self._score(float(z))
