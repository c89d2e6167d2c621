"""``hill-climb``: step toward higher scores from the current position, halving on reversal.

Used for tracking (focus lock): it starts where the drive is and stays inside the window, which
the controller sets to a bounded range around the locked position.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import InputError
from .base import SearchStrategy, register_strategy

__all__ = ["HillClimb"]


@register_strategy
class HillClimb(SearchStrategy):
    """Score both neighbours, climb toward the better; on a fall try the other side, then halve.

    Parameters
    ----------
    step : float, optional
        First step in um; default an eighth of the window.
    max_samples : int
        Hard bound on the frames of one climb (default 40).
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ``start``, ...).
    """

    name = "hill-climb"
    modes = ("max",)
    #: The lock's tracker: a re-focus that ends insignificant is retried by the lock once the
    #: sample moves on (it re-arms), and extra frames would cost tracking time under drift.
    top_up = False

    def __init__(self, *, step: float | None = None, max_samples: int = 40, **common) -> None:
        super().__init__(**common)
        if self.mode != "max":
            raise InputError("strategy 'hill-climb' climbs to a maximum (mode 'max'): use coarse-fine")
        if step is not None and not float(step) > 0:
            raise InputError(f"step {step!r} um must be > 0")
        if int(max_samples) != max_samples or max_samples < 3:
            raise InputError(f"max_samples {max_samples!r} must be an integer >= 3")
        self.step = None if step is None else float(step)
        self.max_samples = int(max_samples)

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        step = self.step if self.step is not None else (whi - wlo) / 8.0
        step = max(step, self.resolution)
        z = self._z[-1] if self._z else self.start
        z = min(max(z, wlo), whi)
        budget = self.max_samples
        yield z
        s = self._last_score()
        budget -= 1
        # the first step scores both neighbours and climbs toward the better one: a climb that
        # starts on the top (the focus lock after a drift) must not follow the first side blindly
        best_z, best_s = z, s
        for zn in (z - step, z + step):
            zn = min(max(zn, wlo), whi)
            if abs(zn - z) < 0.5 * self.resolution or budget <= 0:
                continue
            yield zn
            sn = self._last_score()
            budget -= 1
            if sn > best_s:
                best_z, best_s = zn, sn
        direction = 1.0 if best_z >= z else -1.0
        if best_z == z:
            step /= 2.0
        z, s = best_z, best_s
        # then: go on while the score rises; on a fall try the other side at the same step,
        # then halve the step
        other_tried = False
        while step >= 0.75 * self.resolution and budget > 0:
            zn = min(max(z + direction * step, wlo), whi)
            improved = False
            if abs(zn - z) >= 0.5 * self.resolution and self._score_at(zn) is None:
                yield zn
                sn = self._last_score()
                budget -= 1
                if sn > s:
                    z, s, improved = zn, sn, True
            elif abs(zn - z) >= 0.5 * self.resolution:
                sn = self._score_at(zn)
                if sn is not None and sn > s:
                    z, s, improved = zn, sn, True
            if improved:
                other_tried = False
                continue
            direction = -direction
            if other_tried:
                step /= 2.0
            other_tried = not other_tried
