"""Plane selection: the sharpest plane of a recorded focus stack.

:func:`select_plane` scores every frame of a stack with a focus measure on an ROI, fits the peak
of the curve (:func:`focuscam.search.peak.fit_peak`, sub-step) and returns a
:class:`PlaneResult` with an honest ``"focused"``/``"failed"`` state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._measure_choice import AUTO_MEASURES, default_measure
from .errors import InputError
from .search.peak import MODES, PeakFit, fit_peak
from .stacks import Stack, load_stack
from .types import json_number

__all__ = ["AUTO_MEASURES", "PlaneResult", "choose_measure", "family_min_snr", "select_plane"]


@dataclass(frozen=True)
class PlaneResult:
    """The plane :func:`select_plane` chose.

    Attributes
    ----------
    index : int
        Index of the best frame in the stack's order.
    z : float
        Fitted (sub-step) best-focus position in ``z_unit``.
    z_unit : str
        Unit of ``z``: the stack's (``"mm"``, ``"um"``, ``"step"``) or ``"index"`` when the
        stack has no positions (then ``z`` is a fractional frame index).
    state : str
        ``"focused"`` or ``"failed"`` (flat curve, no significant peak, peak at the edge).
    confidence : float
        In [0, 1], see :class:`~focuscam.search.peak.PeakFit`.
    scores : list of float
        The focus score of every frame, in the stack's order.
    measure : str
        The focus measure used.
    reason : str
        Why the selection failed, or how the plane was found.
    mode : str
        ``"max"`` or ``"brightfield"`` (contrast minimum between two maxima).
    bin : int
        The bin factor used (``"auto"`` resolved).
    roi : tuple or None
        ``(x, y, w, h)`` in pixels, or None for the whole frame.
    z_sample : float
        ``z`` of the best frame (``z_unit``).
    at_edge : bool
        The best frame is the first or last position of the stack.
    peak : PeakFit
        The full peak fit.
    """

    index: int
    z: float
    z_unit: str
    state: str
    confidence: float
    scores: list[float]
    measure: str
    reason: str
    mode: str = "max"
    bin: int = 1
    roi: tuple[int, int, int, int] | None = None
    z_sample: float = math.nan
    at_edge: bool = False
    peak: PeakFit | None = field(default=None, repr=False, compare=False)

    @property
    def focused(self) -> bool:
        """True when ``state == "focused"``."""
        return self.state == "focused"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: index, z, z_unit, state, confidence, scores, measure, reason, ..."""

        return {
            "index": self.index,
            "z": json_number(self.z),
            "z_unit": self.z_unit,
            "state": self.state,
            "confidence": self.confidence,
            "scores": [json_number(s) for s in self.scores],
            "measure": self.measure,
            "reason": self.reason,
            "mode": self.mode,
            "bin": self.bin,
            "roi": list(self.roi) if self.roi is not None else None,
            "z_sample": json_number(self.z_sample),
            "at_edge": self.at_edge,
            "second_peak": self._second_peak(),
        }

    def _second_peak(self) -> dict[str, float] | None:
        """A second, separate peak nearly as high as the chosen one (see ``fit_peak``), or None."""
        peak = self.peak
        if peak is None or not math.isfinite(peak.second_z):
            return None
        return {"z": float(peak.second_z), "ratio": float(peak.second_ratio)}


#: ``bin="auto"`` coarsens the binning of a noise-drowned curve only while the binned ROI keeps
#: at least this many pixels on its short side.
MIN_BINNED_SIDE = 24
#: A coarser-binned retry must show a peak of at least this many noise sigmas (twice the usual
#: 5, because several curves were tried: keeps peak-less stacks failing).
RETRY_MIN_SNR = 10.0


def coarser_bins(k: int, side: int) -> list[int]:
    """The factors a ``bin="auto"`` retry tries after the automatic factor ``k``, in order:
    doubling while the binned ROI's short side (``side`` pixels) keeps :data:`MIN_BINNED_SIDE`
    pixels and the factor stays <= 16 (``select_plane`` and the closed-loop retry of
    :mod:`focuscam._rebin`)."""
    out = []
    while side // (k * 2) >= MIN_BINNED_SIDE and k * 2 <= 16:
        k *= 2
        out.append(k)
    return out


def _roi_short_side(frame: np.ndarray, roi: Any) -> int:
    if roi is None:
        return int(min(frame.shape[:2]))
    return int(min(roi[2], roi[3]))


def _insignificant(fit: PeakFit) -> bool:
    """True when a fit failed because no peak stands out (not because it sits at an edge)."""
    return fit.state != "focused" and not fit.at_edge


def _as_stack(stack: Any) -> Stack:
    if isinstance(stack, Stack):
        return stack
    if isinstance(stack, str | os.PathLike):
        return load_stack(stack)
    if isinstance(stack, np.ndarray) or isinstance(stack, list | tuple):
        return Stack.from_frames(stack)
    raise InputError(
        f"stack must be a Stack, a path or a list of frames, not {type(stack).__name__}: "
        "e.g. select_plane('recordings/target_color')"
    )


def family_min_snr(k: int, min_snr: float | None = None) -> float:
    """The significance factor when the best of ``k`` curves is kept (Bonferroni on a normal tail).

    Keeping the most significant of ``k`` curves multiplies the chance that noise passes by
    up to ``k``; the factor ``z`` solves ``P(Z > z) = P(Z > min_snr) / k`` for a standard
    normal ``Z`` (5 -> 5.26 for k = 3), so the family keeps the error rate of one test.
    """
    from .search.significance import MIN_SNR

    base = MIN_SNR if min_snr is None else float(min_snr)
    if k <= 1:
        return base
    target = 0.5 * math.erfc(base / math.sqrt(2.0)) / k
    lo, hi = base, base + 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def choose_measure(
    stack: Any,
    roi: Any = None,
    bin: int | str = "auto",
    mode: str | None = None,
    candidates: tuple[str, ...] = AUTO_MEASURES,
) -> tuple[PlaneResult, dict[str, PlaneResult]]:
    """Select the plane with each candidate measure and keep the most significant curve.

    Each curve is tested with the one significance rule at :func:`family_min_snr` (the factor
    that keeps the error rate of a single test over ``len(candidates)`` curves); among the
    focused ones, the curve whose SNR is the largest multiple of its threshold wins. No
    candidate focused: the most significant failed one is returned (``failed``).

    Returns
    -------
    (PlaneResult, dict)
        The chosen result (its ``measure`` says which) and every candidate's result.
    """
    st = _as_stack(stack)
    factor = family_min_snr(len(candidates))
    results = {
        name: select_plane(st, name, roi=roi, bin=bin, mode=mode, min_snr=factor) for name in candidates
    }

    def merit(r: PlaneResult) -> tuple[bool, float]:
        peak = r.peak
        ratio = peak.snr / peak.threshold if peak is not None and peak.threshold > 0 else 0.0
        return (r.focused, ratio)

    best = max(results.values(), key=merit)
    others = ", ".join(
        f"{n} {r.peak.snr:.3g}/{r.peak.threshold:.3g}"
        if r.peak is not None and r.peak.tested
        else f"{n} untested"
        for n, r in results.items()
        if n != best.measure
    )
    note = f" (measure auto: {best.measure} has the most significant curve; {others})"
    from dataclasses import replace

    return replace(best, reason=best.reason + note), results


def select_plane(
    stack: Stack | str | os.PathLike[str] | list[np.ndarray] | np.ndarray,
    name: str | None = None,
    roi: Any = None,
    bin: int | str = "auto",
    mode: str | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    min_snr: float | None = None,
) -> PlaneResult:
    """Find the sharpest plane of a focus stack.

    Every frame is scored with ``measure(frame, name, roi, bin)``; the curve's peak is fitted
    below the sample step and tested for significance (see :func:`focuscam.search.peak.fit_peak`).

    Parameters
    ----------
    stack : Stack, str, Path, list of ndarray or ndarray
        A loaded stack, a path for :func:`focuscam.load_stack` (stack folder, image folder,
        multi-page TIFF, video), or frames in order (then ``z`` is the frame index).
    name : str or None
        Focus measure, one of ``focuscam.MEASURES`` (default: the autofocus default for the
        mode, :func:`focuscam.autofocus.default_measure`: ``lapv``, ``glvn`` in brightfield),
        or ``"auto"``: the
        candidate of :data:`AUTO_MEASURES` whose curve is the most significant
        (:func:`choose_measure`).
    roi : (x, y, w, h) or None
        Region in pixels; None = whole frame.
    bin : int or "auto"
        k x k binning before the measure. ``"auto"`` (default): the measure's own choice from the
        frame size (``focuscam.measures.resolve_bin``, the same factor for every frame); when
        that curve shows no significant peak (small noisy frames, where pixel noise drowns the
        measure), the factor is doubled (2x, 4x, ...) while the binned ROI keeps at least
        :data:`MIN_BINNED_SIDE` pixels, and the first curve whose peak stands out by
        :data:`RETRY_MIN_SNR` noise sigmas is used (the ``reason`` says so). A stack without a
        focus peak still fails.
    mode : {"max", "brightfield"} or None
        ``"max"``: sharpest = highest score. ``"brightfield"``: contrast minimum between two maxima.
        None (default): ``"brightfield"`` when the stack's ``modality`` is ``"brightfield"``,
        else ``"max"``.
    on_frame : callable or None
        Called as ``on_frame(done, total)`` after every frame scored (a progress bar); a
        binning retry scores the frames again and calls it again from ``done = 1``.
    min_snr : float, optional
        The factor of the one significance rule (default
        :data:`focuscam.search.significance.MIN_SNR`).

    Returns
    -------
    PlaneResult
        ``z`` in the stack's ``z_unit`` (``"index"`` when the stack has no positions).

    Raises
    ------
    InputError
        Unknown measure, bad ROI or bin, bad mode; StackError for unreadable stacks.
    """
    from .measures import MEASURES, measure, resolve_bin
    from .search.significance import MIN_SNR

    if name == "auto":
        return choose_measure(stack, roi=roi, bin=bin, mode=mode)[0]
    if name is None:
        st0 = _as_stack(stack)
        resolved = mode or ("brightfield" if (st0.modality or "").lower() == "brightfield" else "max")
        name, stack = default_measure(resolved), st0
    base_snr = MIN_SNR if min_snr is None else float(min_snr)
    if not isinstance(name, str) or name not in MEASURES:
        raise InputError(f"measure {name!r} is unknown: choose one of {', '.join(MEASURES)}")
    if mode is not None and mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}: use 'max' or 'brightfield'")
    st = _as_stack(stack)
    if len(st) == 0:
        raise InputError("the stack has no frames: give a stack with at least 3 frames")
    if mode is None:
        mode = "brightfield" if (st.modality or "").lower() == "brightfield" else "max"
    first = st.image(0)
    z = np.asarray(st.z, dtype=np.float64)
    z_unit = st.z_unit
    note = ""
    if z_unit is None or z_unit == "index" or not np.all(np.isfinite(z)):
        if z_unit not in (None, "index"):
            note = " (some frames have no z: positions are frame indices)"
        z = np.arange(len(st), dtype=np.float64)
        z_unit = "index"

    def curve(k: int, min_snr: float = base_snr) -> tuple[list[float], PeakFit]:
        scores = []
        for img in st.images():
            scores.append(float(measure(img, name, roi, bin=k)))
            if on_frame is not None:
                on_frame(len(scores), len(st))
        return scores, fit_peak(z, scores, mode=mode, min_snr=min_snr)

    if bin == "auto":
        k = int(resolve_bin(first, roi))
        scores, fit = curve(k)
        # A curve drowned in pixel noise (small noisy 16-bit frames) gets coarser binning, the
        # same factor for every frame, as long as the binned ROI keeps MIN_BINNED_SIDE pixels.
        retries = coarser_bins(k, _roi_short_side(first, roi)) if _insignificant(fit) else []
        for tried in retries:
            s2, f2 = curve(tried, min_snr=RETRY_MIN_SNR * base_snr / MIN_SNR)
            if not _insignificant(f2):
                note += f" (bin {tried}: at bin {k} the curve had no significant peak)"
                k, scores, fit = tried, s2, f2
                break
    else:
        k = bin  # type: ignore[assignment]
        scores, fit = curve(k)
    box = None if roi is None else tuple(int(v) for v in roi)
    return PlaneResult(
        index=fit.index,
        z=fit.z,
        z_unit=z_unit,
        state=fit.state,
        confidence=fit.confidence,
        scores=scores,
        measure=name,
        reason=fit.reason + note,
        mode=mode,
        bin=int(k),
        roi=box,  # type: ignore[arg-type]
        z_sample=fit.z_sample,
        at_edge=fit.at_edge,
        peak=fit,
    )
