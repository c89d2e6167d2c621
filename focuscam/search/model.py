"""``model`` (the default): coarse bracket, a peak model fitted as soon as the samples allow,
a jump to its peak, refinement until the one significance rule is satisfied.

1. **Bracket** on a coarse grid over the window (``coarse_points`` positions, or a step of
   about three calibrated curve widths when the rig has ``curve_width_um``): start at the grid
   position nearest the drive, climb toward the better neighbour until the score gets worse
   (a bracket low-high-low; in brightfield high-low-high: two higher samples around a dip).
   A climb that ends at a window end (in brightfield also a far-defocus end below the dip)
   scores the rest of the grid, nearest first, until the best sample is bracketed (the whole
   window is covered before giving up). In max mode, when the best grid sample is still at a
   window end, a peak narrower than a grid step may hide inside the window: the gap beside that
   end is halved (a focus near the end), then the gaps beside an inside sample higher than both
   its neighbours (a narrow peak on a background that rises across the window: bleaching, a
   lamp), until the best sample is inside (:func:`_hidden_peak_candidates`; these frames do not
   count against the pass's budget).
2. **Jump**: fit a Gaussian (a parabola through the logarithm of the scores above the floor)
   to the best sample and its two neighbours and score its vertex; refit and jump again while
   the vertex moves by a resolution step or more (at most three jumps).
3. **Refine**: score the best sample's neighbourhood at half the previous spacing until the
   best sample's neighbours are within the ``resolution`` (or the calibrated width): the gap
   on the side of the Gaussian's peak first, then the one nearer the drive (no round trips).
   The frame at the fitted peak is planned as the significance test's last needed sample
   (:func:`~focuscam.search.significance.test_peak` needs model parameters + 2): before that,
   candidates within 0.75 resolution steps of the fitted peak wait and samples away from it
   come first; at that count the fitted peak itself is scored. So the search tends to *end*
   on the peak, and when the final fit lies within a tenth of the resolution of that last
   frame the controller needs no separate verification frame there
   (:data:`~focuscam.search.base.NO_MOVE`). Stop as soon as the peak is significant;
   otherwise add samples (refinement, then whole steps around the best, then the rest of the
   grid) within the frame budget. (No extra frame is taken at the fit once the test holds:
   on flat-topped curves more samples on the top can make the test fail.) When the
   significant fit is a plateau (a flat top), its edges are bisected first.

In ``brightfield`` mode the climb, the jumps and the refinement look for the lowest score
(the focal plane is the minimum between two maxima); the climb stops once two higher samples
bracket the dip instead of sweeping the whole grid. When the whole grid shows no sample below
both its neighbours, the two maxima may lie within one grid step of each other (a phase object
at high aperture: the grid sees one hump): the hump's top is halved until a dip appears, then
the two maxima around it are resolved (:func:`_hump_candidates`; those frames do not count against
the pass's budget). The refinement halves the nearer gap
first there: the two maxima differ in height, so the vertex of three points does not tell on
which side of the best sample the dip lies.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator

import numpy as np

from ..errors import InputError
from .base import SearchStrategy, register_strategy
from .peak import best_index
from .plateau import top_run
from .significance import test_peak

__all__ = ["Model"]


def _vertex3(z: np.ndarray, s: np.ndarray, floor: float) -> float | None:
    """Vertex of the Gaussian through three points (parabola of log(s - floor)), else of s."""
    lifted = s - floor
    y = np.log(lifted) if np.all(lifted > 0) else s
    a, b, _ = np.polyfit(z - z[1], y, 2)
    if not a < 0:
        return None
    v = z[1] - b / (2.0 * a)
    return float(v) if z[0] <= v <= z[2] else None


def _floor(s: np.ndarray) -> float:
    """The floor under a Gaussian peak of the scores: 0 for positive scores (focus measures), so
    that the lowest sample keeps a finite logarithm; else one spread below the lowest score."""
    return 0.0 if np.all(s > 0) else float(np.min(s) - np.ptp(s))


def _dips(s: np.ndarray) -> np.ndarray:
    """Indices of the samples (sorted by z) lower than both their neighbours."""
    return np.flatnonzero((s[1:-1] < s[:-2]) & (s[1:-1] < s[2:])) + 1


def _has_dip(s: np.ndarray) -> bool:
    """True when a sample lies below both its neighbours (a brightfield dip bracketed)."""
    return s.size >= 3 and _dips(s).size > 0


def _hump_candidates(z: np.ndarray, s: np.ndarray, resolution: float) -> list[float]:
    """Where (um) to look for a brightfield dip that a coarse grid did not show.

    The two contrast maxima around the focal plane may lie within one grid step of each other,
    so the grid sees one hump with the dip hidden in it. While no sample (``z`` sorted, um;
    contrast ``s``) lies below both its neighbours: the middle of the widest gap inside the
    hump's top (the run of samples above half the highest one's height over the lowest), else
    of the widest gap beside it whose lower end is the higher. Once there is a dip: the middles
    of the gaps beside the two maxima around the deepest dip, so that the significance test
    (which fits the samples between them) gets the real maxima. Only gaps of two resolution
    steps or more are halved.
    """
    if z.size < 3:
        return []
    wide = 2.0 * resolution
    dips = _dips(s)
    if dips.size == 0:
        a, b = top_run(s, int(np.argmax(s)))
        gaps = [
            (a <= i < b, round((z[i + 1] - z[i]) / resolution), min(s[i], s[i + 1]), i)
            for i in range(max(a - 1, 0), min(b + 1, z.size - 1))
            if z[i + 1] - z[i] >= wide
        ]
        return [0.5 * (z[g[-1]] + z[g[-1] + 1]) for g in sorted(gaps, reverse=True)[:1]]
    depth = [min(s[:j].max(), s[j + 1 :].max()) - s[j] for j in dips]
    j = int(dips[int(np.argmax(depth))])
    tops = (int(np.argmax(s[:j])), j + 1 + int(np.argmax(s[j + 1 :])))
    return [
        0.5 * (z[k] + z[m])
        for m in tops
        for k in (m - 1, m + 1)
        if 0 <= k < z.size and abs(z[k] - z[m]) >= wide
    ]


def _hidden_peak_candidates(z: np.ndarray, s: np.ndarray, resolution: float) -> list[float]:
    """Where (um) to look for a peak that a coarse grid did not show (max mode).

    While the best sample (``z`` sorted, um; scores ``s``) is at an end of the window, the peak
    may lie inside the window all the same, narrower than a grid step:

    1. between the best end sample and its neighbour (a focus near the window's end): the
       middle of that gap, while it is two resolution steps or wider;
    2. beside an inside sample higher than both its neighbours (a background that rises across
       the window -- bleaching, a lamp warming up -- can lift a far end above the grid samples
       beside the peak): the middles of the gaps beside the highest such sample, when two
       resolution steps or wider.

    None once the best sample is inside; a monotone curve ends after the first, with the peak
    beyond the end.
    """
    if z.size < 3:
        return []
    b = int(np.argmax(s))
    if 0 < b < z.size - 1:
        return []
    n = 1 if b == 0 else z.size - 2
    if abs(z[n] - z[b]) >= 2.0 * resolution:
        return [float(0.5 * (z[n] + z[b]))]
    tops = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] > s[2:])) + 1
    if tops.size == 0:
        return []
    j = int(tops[int(np.argmax(s[tops]))])
    return [float(0.5 * (z[k] + z[j])) for k in (j - 1, j + 1) if abs(z[k] - z[j]) >= 2.0 * resolution]


def _plateau_gap(z: np.ndarray, v: np.ndarray, step: float) -> float | None:
    """A flat top's centre is only as good as its two edges: the midpoint (um) of the wider gap
    between the top's outermost sample and the next one below half the top's height, while
    that gap is wider than two ``step`` (um); else None. ``z`` sorted (um), ``v`` the scores
    with the peak up."""
    lo, hi = top_run(v, int(np.argmax(v)))
    gaps = [(z[lo] - z[lo - 1], lo - 1, lo) if lo > 0 else (0.0, 0, 0)]
    gaps.append((z[hi + 1] - z[hi], hi, hi + 1) if hi < v.size - 1 else (0.0, 0, 0))
    gap, i, k = max(gaps)
    return float(0.5 * (z[i] + z[k])) if gap > 2.0 * step else None


def _sigma3(z: np.ndarray, s: np.ndarray, floor: float) -> float | None:
    """Sigma of the Gaussian through three points (parabola of log(s - floor)), if it opens down."""
    lifted = s - floor
    if not np.all(lifted > 0):
        return None
    a = np.polyfit(z - z[1], np.log(lifted), 2)[0]
    return float(math.sqrt(-0.5 / a)) if a < 0 else None


def _next_positions(z, v, b, gaps, target, grid, here, resolution, max_mode) -> list[float]:
    """Positions (um) worth scoring next around the best sample ``b``, best first.

    ``z`` sorted (um), ``v`` the scores with the peak up (negated in brightfield), ``gaps`` the
    spacings below and above the best sample, ``here`` the drive's position (um). Gaps wider
    than 1.5 ``target`` beside the best sample are halved first (the one on the side of the
    model's peak -- the Gaussian through the best sample and its neighbours -- first, then the
    one nearer the drive: no round trips; in brightfield the nearer one first); when neither
    is, the gap on the peak's side (else the wider one) is halved; then positions at whole
    ``target`` steps from the best, nearest the drive first; then the coarse ``grid``.
    """
    vx = _vertex3(z[b - 1 : b + 2], v[b - 1 : b + 2], _floor(v))
    halves = []
    for k in (0, 1):
        if gaps[k] > 1.5 * target:
            half = 0.5 * gaps[k]
            if half < 0.75 * resolution:
                half = resolution
            c = z[b] + (half if k else -half)
            # in brightfield the two maxima around the dip differ in height, so the vertex of
            # three points (no sloping baseline) does not tell the side: the nearer half first
            # there (no round trip)
            away = max_mode and vx is not None and (vx < z[b]) != (k == 0)
            halves.append((away, abs(c - here), c))
    out = [c for *_, c in sorted(halves)]
    if not out:
        # neighbours close enough: halve the gap on the side of the model's peak, else the wider
        side = 0 if gaps[0] >= gaps[1] else 1
        if vx is not None and vx != z[b] and 0.5 * gaps[int(vx > z[b])] >= 0.75 * resolution:
            side = int(vx > z[b])
        out.append(z[b] + (0.5 * gaps[1] if side else -0.5 * gaps[0]))
    out += sorted((z[b] + k * target for k in (-3, -2, -1, 1, 2, 3)), key=lambda c: abs(c - here))
    out += sorted((float(g) for g in grid), key=lambda c: abs(c - here))
    return [float(c) for c in out]


@register_strategy
class Model(SearchStrategy):
    """Coarse bracket, model jump, refinement to significance (the default strategy).

    Parameters
    ----------
    coarse_points : int, optional
        Positions of the coarse grid over the window (default 5; with ``curve_width_um``, the
        window divided by three widths, 5 to 9 positions).
    max_frames : int, optional
        Most frames one pass scores (default a quarter of a full sweep at the ``resolution``,
        at least 10).
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um,
        ``curve_width_um``, ...).
    """

    name = "model"
    plans_on_planes = True

    def __init__(self, *, coarse_points: int | None = None, max_frames: int | None = None, **common) -> None:
        super().__init__(**common)
        if coarse_points is not None and (int(coarse_points) != coarse_points or coarse_points < 3):
            raise InputError(f"coarse_points {coarse_points!r} must be an integer >= 3")
        if max_frames is not None and (int(max_frames) != max_frames or max_frames < 5):
            raise InputError(f"max_frames {max_frames!r} must be an integer >= 5")
        self.coarse_points = None if coarse_points is None else int(coarse_points)
        self.max_frames = None if max_frames is None else int(max_frames)

    # ------------------------------------------------------------------ planning
    def _grid(self, wlo: float, whi: float) -> np.ndarray:
        n = self.coarse_points
        if n is None:
            n = 5
            if self.curve_width_um is not None:
                n = int(min(9, max(5, math.ceil((whi - wlo) / (3.0 * self.curve_width_um)) + 1)))
        return np.linspace(wlo, whi, n)

    def _budget(self, wlo: float, whi: float) -> int:
        if self.max_frames is not None:
            return self.max_frames
        sweep = round((whi - wlo) / self.resolution) + 1
        return int(max(10, math.ceil(sweep / 4)))

    def _sign(self) -> float:
        return 1.0 if self.mode == "max" else -1.0

    def _window_curve(self, wlo: float, whi: float) -> tuple[np.ndarray, np.ndarray]:
        """The samples (sorted by z, repeats averaged) inside the window ``[wlo, whi]`` (um)."""
        z, s = self._curve()
        inside = (z >= wlo - 1e-9) & (z <= whi + 1e-9)
        return z[inside], s[inside]

    def _best(self, wlo: float, whi: float) -> tuple[np.ndarray, np.ndarray, int]:
        z, s = self._window_curve(wlo, whi)
        if self.mode == "max":  # of equal highest scores the middle one, not the top's edge
            return z, s, best_index(s)
        fit = self._fit()
        return z, s, int(np.argmin(np.abs(z - fit.z_sample)))

    def _needed(self) -> int:
        """Samples the significance test needs (model parameters + 2)."""
        from .significance import model_params

        return model_params(self.curve_width_um is not None, self.mode != "max") + 2

    def _peak_test(self):
        """The significance test of all samples, with the peak fit's own arguments."""
        return test_peak(*self._curve(), mode=self.mode, min_width=self.resolution / 4,
                         width=self.curve_width_um, min_snr=self.min_snr)  # fmt: skip

    def _significant(self) -> bool:
        fit = self._fit(test=True)
        return fit is not None and fit.focused

    # ------------------------------------------------------------------ the pass
    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        first = len(self._z)
        budget = self._budget(wlo, whi)
        sign = self._sign()

        def left() -> int:
            return budget - (len(self._z) - first)

        grid = self._grid(wlo, whi)
        here = self._z[-1] if self._z else self.start
        # 1. bracket: climb the coarse grid from the position nearest the drive (in brightfield
        #    toward lower scores), then fill the grid until the best sample is bracketed
        first += yield from self._bracket(grid, here, wlo, whi, left)
        # 2. jump to the fitted model peak while it moves
        for _ in range(3):
            z, s, b = self._best(wlo, whi)
            if not 0 < b < z.size - 1 or left() <= 0:
                break
            v = _vertex3(z[b - 1 : b + 2], sign * s[b - 1 : b + 2], _floor(sign * s))
            # a jump shorter than one resolution step (the smallest step worth taking) is not one
            if v is None or np.min(np.abs(z - v)) < self.resolution:
                break
            yield from self._go(v)
        # 3. refine around the best sample until its neighbours are within about one curve
        #    width (the calibrated one, else the width of the Gaussian through the best sample
        #    and its neighbours; never below 1.5 resolution steps) and the peak is real; the
        #    frame at the fitted peak is planned as the test's last needed sample, so that the
        #    search ends on it (the controller then takes no second frame there)
        while left() > 0:
            z, s, b = self._best(wlo, whi)
            if not 0 < b < z.size - 1:
                return
            gaps = (z[b] - z[b - 1], z[b + 1] - z[b])
            target = self._target(z, s, b, wlo, whi)
            close = max(gaps) <= 1.5 * target
            peak = float(self._fit().z)
            fresh_peak = self._score_at(self._snap(peak)) is None
            if close and z.size >= self._needed() and self._significant():
                edge = self._plateau_edge(z, self._sign() * s)
                if edge is None:
                    return
                yield from self._go(edge)
                continue
            cands = self._candidates(z, s, b, gaps, target, grid, wlo, whi)
            if close and fresh_peak and z.size + 1 == self._needed():
                cands.insert(0, peak)
            elif z.size + 1 < self._needed():
                # too early for the frame at the peak (one that a later jump to the fit could
                # not improve on): samples away from it first
                cands.sort(key=lambda c: abs(c - peak) < 0.75 * self.resolution)
            if not cands:
                return
            yield from self._go(float(cands[0]))

    def _bracket(
        self, grid: np.ndarray, here: float, wlo: float, whi: float, left
    ) -> Generator[float, float, int]:
        """Climb the coarse ``grid`` (um) from its position nearest ``here`` (um) until the score
        gets worse (in brightfield: higher), first toward the end with more room (the focus is
        more likely there), then, if that first step was no better, the other way. When the best
        sample is not bracketed by worse ones (the climb ended at a window end, or in
        brightfield at a far-defocus end below the dip), score the rest of the grid, nearest
        first, until it is; ``left()`` is the frame budget still free. In brightfield, a grid
        without a dip goes on to the hump search (:func:`_hump_candidates`), and in max mode a
        best sample still at a window end to the hidden-peak search
        (:func:`_hidden_peak_candidates`). Returns the frames those two searches took (they do
        not count against the budget)."""
        sign = self._sign()
        i = int(np.argmin(np.abs(grid - here)))
        si = sign * (yield from self._go(float(grid[i])))
        step = 1 if i == 0 or (i < grid.size - 1 and grid[-1] - grid[i] >= grid[i] - grid[0]) else -1
        for direction in (step, -step):
            j, sj, climbed = i, si, False
            while 0 <= j + direction < grid.size:
                sn = sign * (yield from self._go(float(grid[j + direction])))
                if sn <= sj:
                    break
                j, sj, climbed = j + direction, sn, True
            if climbed:
                break
        tried: set[float] = set()
        while left() > 0:
            z, s, b = self._best(wlo, whi)
            if 0 < b < z.size - 1 and (self.mode == "max" or _has_dip(s)):
                return 0
            rest = [float(g) for g in grid if self._score_at(float(g)) is None and float(g) not in tried]
            if not rest:
                break
            now = self._z[-1]
            g = min(rest, key=lambda g: (abs(g - now), abs(g - 0.5 * (wlo + whi))))
            tried.add(g)
            yield from self._go(g)
        if self.mode != "max" and _has_dip(self._window_curve(wlo, whi)[1]):
            return 0
        # max mode with the best sample at a window end (a peak may hide inside), brightfield
        # without a dip (the grid saw one hump): these frames do not count against the pass's
        # budget, at most one per resolution step of the window
        find = _hidden_peak_candidates if self.mode == "max" else _hump_candidates
        before = len(self._z)
        yield from self._seek(find, wlo, whi, int((whi - wlo) / self.resolution) + 1)
        return len(self._z) - before

    def _seek(self, find, wlo: float, whi: float, frames: int) -> Iterator[float]:
        """Score the candidates ``find(z, s, resolution)`` names for the window's samples (um;
        :func:`_hidden_peak_candidates`, :func:`_hump_candidates`), the nearest unscored one
        first, until none is left or ``frames`` frames were taken."""
        for _ in range(frames):
            cands = find(*self._window_curve(wlo, whi), self.resolution)
            cands = [c for c in cands if self._score_at(self._snap(c)) is None]
            if not cands:
                return
            here = self._z[-1]
            yield from self._go(min(cands, key=lambda c: abs(c - here)))

    def _plateau_edge(self, z: np.ndarray, v: np.ndarray) -> float | None:
        """When the significant model is a plateau (a flat top, :mod:`focuscam.search.plateau`),
        also one whose centre lies beyond the top's outermost sample (the fit then falls back
        to the Gaussian through the best sample): the unscored :func:`_plateau_gap` of its top
        (um), else None. ``v``: the scores with the peak up (negated in brightfield). Edges are
        wanted to about the shoulders' scale (the model's ``width``), as a peak's neighbours to
        about one curve width: halving the gap further adds frames, not precision."""
        sig = self._peak_test()
        if sig.model is None or not sig.model.shape.startswith("plateau-"):
            return None
        cand = _plateau_gap(z, v, max(self.resolution, self.curve_width_um or 0.0, sig.model.width))
        return None if cand is None or self._score_at(self._snap(cand)) is not None else cand

    def _go(self, z: float) -> Iterator[float]:
        """``s = yield from self._go(z)``: score the position a proposal of ``z`` (um) really
        reaches (its grid point on a stepped drive), unless that one is already scored."""
        return self._score(self._snap(z))

    def _candidates(self, z, s, b, gaps, target, grid, wlo, whi) -> list[float]:
        """Unscored positions (um) inside the window worth scoring next, best first
        (:func:`_next_positions`); a position whose grid point (on a stepped drive) is already
        scored is left out."""
        out = _next_positions(z, self._sign() * s, b, gaps, target, grid, self._z[-1], self.resolution,
                              self.mode == "max")  # fmt: skip
        return [c for c in out if wlo <= c <= whi and self._score_at(self._snap(c)) is None]

    def _target(self, z: np.ndarray, s: np.ndarray, b: int, wlo: float, whi: float) -> float:
        """The wanted spacing (um) around the best sample ``b``: about one curve width (the
        calibrated one, else the Gaussian's through the best sample and its neighbours), at
        most a quarter of the window, never below the resolution."""
        sign = self._sign()
        sigma = self.curve_width_um
        if sigma is None:
            sigma = _sigma3(z[b - 1 : b + 2], sign * s[b - 1 : b + 2], _floor(sign * s))
        if sigma is None:  # the best three do not curve (a flat top): the fitted model's width
            fit = self._peak_test()
            sigma = None if fit.model is None else fit.model.sigma
        return max(self.resolution, min(sigma or 0.0, 0.25 * (whi - wlo)) / 1.5)
