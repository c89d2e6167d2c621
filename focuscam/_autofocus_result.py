"""The outcome of an autofocus run: :class:`AutofocusResult` and how a run's result is built.

:class:`~focuscam.autofocus.Autofocus` ends each run in a :class:`_Verdict` (positions, state,
reason, scores); :func:`run_result` adds the run's counters (frames, moves, travel, time) and
the advice that fits the source. :func:`peak_score` and :func:`verified` are the numbers of
the verification step. Pure functions: no I/O, no drive. :class:`AutofocusResult` is public as
``focuscam.autofocus.AutofocusResult``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import FocusState, ZUnit

__all__ = ["AutofocusResult", "advice_fits_source", "peak_score", "run_result", "verified", "verify_verdict"]


@dataclass(frozen=True)
class AutofocusResult:
    """The outcome of one autofocus run.

    Attributes
    ----------
    z : float or None
        Final position in um (read back from the drive after the final move).
    state : str
        ``"focused"`` or ``"failed"``.
    confidence : float
        In [0, 1], from the peak fit and the peak-model test.
    frames : int
        Frames scored (search, verification and retries).
    moves : int
        Moves commanded (a backlash overshoot counts as part of its move).
    travel_um : float
        Total distance travelled in um, backlash overshoots included.
    elapsed_s : float
        Elapsed time in s of the drive's clock (virtual time on the twin).
    samples : tuple of (float, float)
        Every ``(z_um, score)`` scored, in order.
    reason : str
        Why the run ended in its state.
    strategy : str
        The search strategy.
    target_z : float or None
        The fitted peak in um (where the drive was sent).
    verify_score, peak_score : float or None
        The score of the fresh frame after arriving, and the curve's score at the peak.
    searches : int
        Searches run (2 when the verification failed and the search was retried).
    measure : str
        The focus measure used.
    bin : int or "auto"
        The binning the measure used.
    """

    z: float | None
    state: str
    confidence: float
    frames: int
    moves: int
    travel_um: float
    elapsed_s: float
    samples: tuple[tuple[float, float], ...]
    reason: str
    strategy: str
    target_z: float | None = None
    verify_score: float | None = None
    peak_score: float | None = None
    searches: int = 1
    measure: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    bin: int | str = "auto"

    @property
    def focused(self) -> bool:
        """True when the state is ``"focused"``."""
        return self.state == FocusState.FOCUSED

    def to_dict(self, unit: ZUnit | None = None) -> dict[str, Any]:
        """A JSON-ready dict; ``*_um`` positions and ``samples`` in um, times in s.

        ``samples`` is a list of ``{"z_um": .., "score": ..}`` objects, in the order scored.

        ``z``, ``target_z`` and ``travel`` are in ``unit`` (``z_unit``; default um): a twin's
        stack unit, so a stack in mm reads in mm.
        """
        unit = ZUnit() if unit is None else unit

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "z": num(unit.from_um(self.z)),
            "target_z": num(unit.from_um(self.target_z)),
            "travel": num(unit.from_um(self.travel_um)),
            "z_unit": unit.name,
            "z_um": num(self.z),
            "state": self.state,
            "confidence": round(float(self.confidence), 4),
            "frames": self.frames,
            "moves": self.moves,
            "travel_um": num(self.travel_um),
            "elapsed_s": num(self.elapsed_s),
            "strategy": self.strategy,
            "target_z_um": num(self.target_z),
            "verify_score": num(self.verify_score),
            "peak_score": num(self.peak_score),
            "searches": self.searches,
            "measure": self.measure,
            "bin": self.bin,
            "reason": self.reason,
            "samples": [{"z_um": float(z), "score": float(s)} for z, s in self.samples],
        }


@dataclass(frozen=True)
class _Verdict:
    """How one run ended (before the counters of the run are added): positions in um."""

    z: float | None
    state: str
    reason: str
    confidence: float
    samples: tuple[tuple[float, float], ...]
    searches: int
    target: float | None = None
    verify: float | None = None
    peak: float | None = None


def peak_score(samples: Any, z: float) -> float:
    """The score of the curve ``samples`` (``(z_um, score)`` pairs) at ``z`` (um), interpolated."""
    zs = np.array([p[0] for p in samples])
    ss = np.array([p[1] for p in samples])
    order = np.argsort(zs)
    return float(np.interp(z, zs[order], ss[order]))


def verified(score: float, ref: float, mode: str, fraction: float) -> bool:
    """True when a fresh ``score`` after arriving at the peak is within ``fraction`` of the
    curve's score ``ref`` there (in ``"brightfield"`` mode: not above ``ref / fraction``)."""
    if mode == "brightfield":
        # the focal plane is a contrast minimum: a lower score than the curve's is no fault
        return score * fraction <= ref
    return score >= fraction * ref


def verify_verdict(
    res: Any,
    z: float,
    verify: float,
    ref: float,
    samples: list[tuple[float, float]],
    searches: int,
    failed_fraction: float | None = None,
) -> _Verdict:
    """How a run ends at ``z`` (um) after the search result ``res``, whose verification scored
    ``verify`` against the curve's ``ref`` at the peak (``samples`` so far, ``searches`` run).

    Focused with the search's reason and confidence; failed when ``failed_fraction`` (the
    ``verify_fraction`` the score missed) is given, with the reason why.
    """
    common = {"samples": tuple(samples), "searches": searches, "target": res.z, "verify": verify}
    if failed_fraction is None:
        return _Verdict(z, FocusState.FOCUSED, res.reason, res.confidence, peak=ref, **common)
    reason = (
        f"score after arriving ({verify:.4g}) is not within {failed_fraction:g} of "
        f"the peak's ({ref:.4g}): the scene changed or the drive did not reach the peak"
    )
    return _Verdict(z, FocusState.FAILED, reason, 0.0, peak=ref, **common)


def advice_fits_source(reason: str, source: Any) -> str:
    """``reason`` with advice that fits the source: on a twin the limits are the stack's range.

    A replayed stack cannot be searched beyond its recorded planes, so "widen the limits"
    becomes "the peak is at the end of the recorded range".
    """
    if getattr(source, "stack", None) is None or "widen the limits" not in reason:
        return reason
    return reason.replace(
        "widen the limits",
        "the peak is at the end of the recorded range (record a stack that spans the focus)",
    )


def run_result(v: _Verdict, af: Any, elapsed_s: float) -> AutofocusResult:
    """The result of a run of the controller ``af`` that ended in ``v`` after ``elapsed_s`` s:
    the verdict with the run's counters, strategy, measure and bin."""
    # the fields without a default, in their order: z ... strategy
    return AutofocusResult(
        v.z, v.state, v.confidence, af.frames, af.moves, af.travel_um, elapsed_s, v.samples,
        advice_fits_source(v.reason, af.source), af.strategy_name,
        target_z=v.target, verify_score=v.verify, peak_score=v.peak, searches=v.searches,
        measure=af.measure_name, bin=af.bin,
    )  # fmt: skip
