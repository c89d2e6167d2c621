"""The search-strategy contract, the result type and the strategy registry.

A strategy is a pure object: the caller asks :meth:`SearchStrategy.propose` for the next focus
position (um), moves there, scores a fresh frame and hands the pair back with
:meth:`SearchStrategy.observe`. When ``propose`` returns ``None`` the search is done and
:meth:`SearchStrategy.result` gives the peak fit, the state (``"focused"``/``"failed"``) and a
confidence. No I/O, threads or UI: the same object runs on a replayed stack and on hardware.

Every proposal lies inside the limits ``[lo, hi]`` (um) the strategy was built with. When the
fitted peak sits at the edge of the searched window, the strategy re-centres the window on that
edge (still inside the limits) and searches again, at most ``max_recentre`` times; a peak that
stays at the edge, or sits at a limit, ends ``failed``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import FocusState
from ._plan import MODES, check_options, check_planes, free_plane, known_sample, recentre, snap, widest_gap
from ._plan import check_number as _check_number
from .significance import MIN_SNR

__all__ = ["STRATEGIES", "SearchResult", "SearchStrategy", "make_strategy", "register_strategy"]

#: A move to the peak shorter than this fraction of the ``resolution`` is not taken: the last
#: fresh frame, already there, stands for the frame at the peak (see :mod:`focuscam.autofocus`).
NO_MOVE = 0.1

_MAX_KNOWN_RUN = 100_000  # known positions in a row before a search counts as stuck

#: Residual degrees of freedom of the significance test up to which a search that ends with an
#: insignificant peak takes more samples (:meth:`SearchStrategy._top_up`): the rule then asks
#: 8.6 noise sigmas (1.7 x its factor) instead of 22 with 6 samples.
TOP_UP_DOF = 8


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one search.

    Attributes
    ----------
    z : float or None
        Best-focus position in um (the fitted, sub-step peak), or ``None`` when no sample was taken.
    state : str
        ``"focused"`` or ``"failed"``.
    confidence : float
        In [0, 1]: how clearly the peak stands out of the curve's noise.
    samples : tuple of (float, float)
        Every observed ``(z_um, score)`` pair, in the order observed.
    peak : PeakFit or None
        The peak fit of :func:`focuscam.search.peak.fit_peak` over all samples.
    reason : str
        Why the search ended in its state (one line, for people).
    strategy : str
        The registry name of the strategy that produced the result.
    passes : int
        How many searches ran (1 + the number of re-centred searches).
    """

    z: float | None
    state: str
    confidence: float
    samples: tuple[tuple[float, float], ...]
    peak: Any
    reason: str
    strategy: str = ""
    passes: int = 1
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def focused(self) -> bool:
        """True when the state is ``"focused"``."""
        return self.state == FocusState.FOCUSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (z in um)."""
        peak = self.peak.to_dict() if self.peak is not None and hasattr(self.peak, "to_dict") else None
        return {
            "strategy": self.strategy,
            "z": self.z,
            "state": self.state,
            "confidence": self.confidence,
            "reason": self.reason,
            "passes": self.passes,
            "frames": len(self.samples),
            "samples": [[z, s] for z, s in self.samples],
            "peak": peak,
        }


class SearchStrategy(ABC):
    """Base of every search strategy: proposes positions, observes scores, ends in a peak fit.

    Parameters
    ----------
    lo, hi : float
        Limits in um: no proposal ever leaves ``[lo, hi]``.
    mode : {"max", "brightfield"}
        What the focal plane looks like in the score curve (see :data:`MODES`).
    resolution : float, optional
        The smallest step in um worth taking (drive resolution or plane spacing of a stack);
        default ``(hi - lo) / 200``.
    start : float, optional
        The current position in um (where the drive is); default the middle of the limits.
    window : (float, float), optional
        The first range to search, in um, inside the limits; default the whole limits.
    max_recentre : int
        How many times a peak at the edge of the window may move the window (default 2).
    min_snr : float
        The factor of the one significance rule (:mod:`focuscam.search.significance`, default
        :data:`~focuscam.search.significance.MIN_SNR`), in every mode.
    curve_width_um : float, optional
        The rig's calibrated focus-curve width (Gaussian sigma in um, ``focuscam calibrate``):
        the significance model then uses widths near it, and strategies that plan with a width
        (``model``) use it for their steps.
    grid_um : float
        The drive's step grid in um (0 = continuous): every proposal is snapped to a grid point
        inside ``[lo, hi]``, and ``resolution`` is at least one grid step.
    planes_um : array_like, optional
        The only distinct frames' positions (um) of a replayed stack
        (:attr:`focuscam.twin.TwinSource.distinct_planes_um`; None for a camera): a position
        showing a plane already scored counts as scored (:func:`~focuscam.search._plan.known_sample`).
    top_up_planes : bool
        Top an insignificant peak up with planes no sample shows yet (:meth:`_top_up`; needs
        ``planes_um``; default False). The controller asks for it in the searches that go on
        after a failed first one (:mod:`focuscam._rebin`, the last samples before it decides):
        a first search that tops up its drowned curve spends frames a fallback measure needs.
    """

    #: Registry name, set by subclasses.
    name = ""
    #: True when proposals after the first are constant-speed moves streamed with frames.
    streaming_capable = False
    #: The peak-fit modes the strategy supports.
    modes: tuple[str, ...] = MODES
    #: True when the samples are evenly spaced (a noise estimate from neighbours is valid).
    uniform_samples = False
    #: The option that ``steps`` (planes of a sweep, a rig/CLI setting) sets, if the strategy sweeps.
    steps_option: str | None = None
    #: True when an insignificant peak with few samples gets more samples (:meth:`_top_up`).
    top_up = True
    #: True when the controller passes a replayed stack's planes (``planes_um``) to the strategy.
    plans_on_planes = False

    def __init__(
        self,
        *,
        lo: float,
        hi: float,
        mode: str = "max",
        resolution: float | None = None,
        start: float | None = None,
        window: tuple[float, float] | None = None,
        max_recentre: int = 2,
        min_snr: float = MIN_SNR,
        curve_width_um: float | None = None,
        grid_um: float = 0.0,
        planes_um: Any = None,
        top_up_planes: bool = False,
    ) -> None:
        o = check_options(
            lo, hi, mode, resolution, start, window, max_recentre, min_snr, curve_width_um, grid_um
        )
        self.lo, self.hi, self.mode = o.lo, o.hi, o.mode
        self.resolution, self.grid_um, self.start = o.resolution, o.grid_um, o.start
        self.window, self.max_recentre, self.min_snr = o.window, o.max_recentre, o.min_snr
        self.curve_width_um = o.curve_width_um
        self.planes_um = check_planes(planes_um)
        if not isinstance(top_up_planes, bool):
            raise InputError(f"top_up_planes {top_up_planes!r} must be True or False")
        self.top_up_planes = top_up_planes

        self._z: list[float] = []
        self._s: list[float] = []
        self._pending: float | None = None
        self._pending_streaming = False
        self._gen: Iterator[float] | None = None
        self._known_run = 0  # _score calls in a row answered from known samples
        self._result: SearchResult | None = None
        self._passes = 0
        self._fail_reason: str | None = None
        self.streaming = False

    # ------------------------------------------------------------------ the protocol
    def propose(self) -> float | None:
        """The next position to score, in um inside ``[lo, hi]``; ``None`` when the search is done.

        Calling ``propose`` again before :meth:`observe` returns the same position.
        After a proposal, :attr:`streaming` tells whether the move to it is a constant-speed
        move during which every frame is observed (``continuous``), or a plain move after
        which one fresh frame is observed.
        """
        if self._result is not None:
            return None
        if self._pending is not None:
            return self._pending
        if self._gen is None:
            self._gen = self._search()
        try:
            z = next(self._gen)
        except StopIteration:
            self._result = self._finish()
            self.streaming = False
            return None
        z = self._snap(z)
        self._pending = z
        self.streaming = self._pending_streaming
        return z

    def observe(self, z: float, score: float) -> None:
        """Record the score of a frame taken at ``z`` (um; the position really reached)."""
        z = _check_number(z, "z")
        score = _check_number(score, "score")
        if self._result is not None:
            raise InputError("observe() after the search finished: start a new strategy object")
        self._z.append(z)
        self._s.append(score)
        if not self.streaming:
            self._pending = None

    def end_stream(self) -> None:
        """Tell a streaming strategy that the constant-speed move has ended."""
        self._pending = None
        self.streaming = False

    @property
    def done(self) -> bool:
        """True once :meth:`propose` has returned ``None``."""
        return self._result is not None

    @property
    def samples(self) -> list[tuple[float, float]]:
        """The ``(z_um, score)`` pairs observed so far."""
        return list(zip(self._z, self._s, strict=True))

    def result(self) -> SearchResult:
        """The search result; only after :meth:`propose` has returned ``None``."""
        if self._result is None:
            raise InputError("the search is not finished: call propose() until it returns None")
        return self._result

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        """Yield positions (um) for one search over the window ``[wlo, whi]``."""

    def _snap(self, z: float) -> float:
        """Where a proposal of ``z`` (um) really goes: inside the limits, on the drive's grid."""
        return snap(z, self.lo, self.hi, self.grid_um)

    def _last_score(self) -> float:
        return self._s[-1]

    def _score_at(self, z: float) -> float | None:
        """The score already observed within half the resolution of ``z`` (um), or, when the
        source's planes are known (``planes_um``), at a position showing the same plane; else None."""
        i = known_sample(self._z, z, self.resolution, self.planes_um)
        return None if i is None else self._s[i]

    def _score(self, z: float) -> Iterator[float]:
        """Generator helper: ``s = yield from self._score(z)`` scores ``z`` unless already scored."""
        known = self._score_at(z)
        if known is not None:
            # a strategy that keeps asking for known positions without scoring a new one
            # would spin inside propose(): fail loudly (bounded time) instead of hanging
            self._known_run += 1
            if self._known_run > _MAX_KNOWN_RUN:
                raise RuntimeError(f"{type(self).__name__}: no new position after {_MAX_KNOWN_RUN} tries")
            return known
        self._known_run = 0
        yield z
        return self._last_score()

    def _search(self) -> Iterator[float]:
        """Run passes, re-centring the window while the peak sits at a window edge (a window at
        the limit whose samples stop short of it, :func:`_short_of`, is searched again as it is);
        then, if the peak is not significant with too few samples, take more (:meth:`_top_up`)."""
        wlo, whi = self.window
        short = False
        for attempt in range(self.max_recentre + 1):
            self._passes = attempt + 1
            yield from self._pass(wlo, whi)
            fit = self._fit()
            side = _edge_side(fit, self._curve()[0].size)
            if side == 0:
                yield from self._top_up(wlo, whi)
                return
            moved = recentre(wlo, whi, side, self.lo, self.hi)
            short = moved is None and _short_of(self._curve()[0], side, wlo, whi, self.resolution)
            if short:
                moved = (wlo, whi)
            if moved is None:
                self._fail_reason = _edge_reason(side, self._curve()[0], self.lo, self.hi, self.resolution)
                return
            wlo, whi = moved
        if short:  # still short of the limit after the last pass: say where the search stopped
            self._fail_reason = _edge_reason(side, self._curve()[0], self.lo, self.hi, self.resolution)
            return
        self._fail_reason = (
            f"peak still at the edge of the range after {self.max_recentre} re-centred searches"
        )

    def _top_up(self, wlo: float, whi: float) -> Iterator[float]:
        """More samples before deciding, when the peak fails the significance rule with few.

        With few samples the rule asks a lot (22 noise sigmas for 6 samples, 8.6 with
        :data:`TOP_UP_DOF` residual degrees of freedom): a strategy that plans coarsely (a
        stepped drive's grid, a bracketing optimiser) may end below it on a real peak. While
        the fit is not focused, its peak is not at an edge and the test has fewer than
        ``TOP_UP_DOF`` degrees of freedom, score the free point of a stepped drive's grid
        (``grid_um > 0``) inside the window that lies in the widest gap between samples, or,
        with ``top_up_planes`` on a replayed stack whose planes are known (``planes_um``), the
        plane no sample shows yet farthest from the samples
        (:func:`~focuscam.search._plan.free_plane`); nothing otherwise. The rule itself is
        unchanged: noise stays insignificant, it only gets the samples it asks for.
        """
        planes = self.top_up_planes and self.planes_um is not None
        if not self.top_up or (self.grid_um <= 0 and not planes):
            # only where the free positions are distinct frames: a stepped drive's grid (what
            # makes the plan coarse) or a replayed stack's planes (off them, the stack shows the
            # nearest plane again: repeats the rule would count as independent samples)
            return
        from .significance import model_params

        params = model_params(self.curve_width_um is not None, self.mode != "max")
        while True:
            z, _ = self._curve()
            if z.size >= params + TOP_UP_DOF:
                return
            fit = self._fit(test=True)
            if fit is None or fit.focused or fit.at_edge:
                return
            scored = lambda g: self._score_at(g) is not None  # noqa: E731
            if self.grid_um > 0:
                cand = widest_gap(z, wlo, whi, self.grid_um, scored)
            else:
                cand = free_plane(self.planes_um, z, wlo, whi, scored)
            if cand is None:
                return
            yield from self._score(cand)

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples sorted by z, repeated positions averaged."""
        return _average_repeats(self._z, self._s)

    def _fit(self, test: bool = False):
        """The peak fit over all samples; ``test=True`` applies the one significance rule."""
        from .peak import fit_peak

        z, s = self._curve()
        if z.size == 0:
            return None
        return fit_peak(
            z,
            s,
            mode=self.mode,
            min_snr=self.min_snr,
            width=self.curve_width_um,
            min_width=self.resolution / 4,
            test=test,
        )

    def _finish(self) -> SearchResult:
        return _result_of(self, self._fit(test=True))


def _average_repeats(zs: list[float], ss: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The samples ``(zs, ss)`` sorted by z, the scores at repeated positions averaged."""
    z = np.asarray(zs, dtype=float)
    s = np.asarray(ss, dtype=float)
    if z.size == 0:
        return z, s
    uz, inv = np.unique(np.round(z, 9), return_inverse=True)
    sums = np.bincount(inv, weights=s)
    counts = np.bincount(inv)
    return uz, sums / counts


def _short_of(z: np.ndarray, side: int, wlo: float, whi: float, resolution: float) -> bool:
    """True when the outermost of the sorted samples ``z`` (um) on ``side`` (-1 low, +1 high)
    lies more than one ``resolution`` step inside that end of the window ``[wlo, whi]`` (um)."""
    gap = float(z[0] - wlo) if side < 0 else float(whi - z[-1])
    return gap > resolution


def _edge_side(fit: Any, n: int) -> int:
    """-1 when the fitted peak is at the low end of the sampled curve (``n`` positions), +1 at
    the high end."""
    if fit is None:
        return 0
    if n < 3:
        return 0
    edge = _fit_edge(fit, n)
    if edge == 0:
        return 0
    return edge


def _result_of(strategy: SearchStrategy, fit: Any) -> SearchResult:
    """The result of a finished ``strategy`` whose final peak fit (significance tested) is ``fit``.

    A reason the search itself failed for (a peak at a limit, or still at the window's edge)
    overrides the fit's state; the fitted peak is clipped to the strategy's limits.
    """
    name, passes = strategy.name, strategy._passes
    if fit is None:
        return SearchResult(None, FocusState.FAILED, 0.0, (), None, "no sample was observed", name, passes)
    state, reason = fit.state, fit.reason
    confidence = float(fit.confidence)
    if strategy._fail_reason is not None:
        state, reason, confidence = FocusState.FAILED, strategy._fail_reason, 0.0
    z = float(fit.z) if fit.z is not None and math.isfinite(fit.z) else None
    if z is not None:
        z = min(max(z, strategy.lo), strategy.hi)
    return SearchResult(z, state, confidence, tuple(strategy.samples), fit, reason, name, passes)


def _edge_reason(side: int, z: np.ndarray, lo: float, hi: float, resolution: float) -> str:
    """Why a search whose best sample is its outermost one on ``side`` (-1 low, +1 high) failed,
    with the limits ``lo``, ``hi`` and the sorted sample positions ``z`` (um): the peak at a
    limit (within one ``resolution`` step of it: a stepped drive's last grid point may stop short
    of a limit off its grid), or the curve still rising at a sample short of the limit."""
    end, limit = ("low", lo) if side < 0 else ("high", hi)
    edge = float(z[0] if side < 0 else z[-1])
    if abs(edge - limit) <= resolution:
        return f"peak at the {end} limit {limit:g} um: widen the limits"
    return (
        f"no peak found: the scores still rise toward {'lower' if side < 0 else 'higher'} z at the "
        f"{'lowest' if side < 0 else 'highest'} sample, {edge:.4g} um, where the search stopped short "
        f"of the {end} limit {limit:g} um: search again from there"
    )


def _fit_edge(fit, n: int) -> int:
    """-1/+1 when the peak fit says its peak is at the low/high edge of the curve, else 0."""
    return int(fit.edge_side) if fit.at_edge else 0


#: name -> strategy class
STRATEGIES: dict[str, type[SearchStrategy]] = {}

#: The strategy the controller and the evaluation use when none is named.
DEFAULT_STRATEGY = "model"


def register_strategy(cls: type[SearchStrategy]) -> type[SearchStrategy]:
    """Class decorator: add a strategy to :data:`STRATEGIES` under ``cls.name``."""
    STRATEGIES[cls.name] = cls
    return cls


def make_strategy(name: str, *, lo: float, hi: float, **options: Any) -> SearchStrategy:
    """Build the strategy registered as ``name`` over the limits ``[lo, hi]`` (um).

    Raises
    ------
    InputError
        When the name is unknown or an option does not fit the strategy.
    """
    from . import _load_all

    _load_all()
    cls = STRATEGIES.get(name)
    if cls is None:
        raise InputError(f"strategy {name!r} is unknown: use one of {', '.join(sorted(STRATEGIES))}")
    try:
        return cls(lo=lo, hi=hi, **options)
    except TypeError as exc:
        raise InputError(f"strategy {name!r}: {exc}: check the option names") from None
