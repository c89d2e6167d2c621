"""A failed first search scored again: other measures (``measure="auto"``) and coarser binning
(``bin="auto"``), as :func:`focuscam.select_plane` does for a stack.

Which measure shows a focal plane depends on the sample: the variance of the Laplacian sees
fine detail first but is drowned first by photon noise (a dim fluorescent field), where the
Tenengrad gradient or the normalised variance still show the peak
(:data:`~focuscam.select.AUTO_MEASURES`). The automatic bin factor
(:func:`focuscam.measures.resolve_bin`) comes from the frame's size and dtype only; on small,
dim frames the curve at that factor can stay flat within noise while 2 x 2 or 4 x 4 binning
shows the peak clearly. ``select`` tries both (``--measure auto``; doubling the factor while the
binned ROI keeps :data:`~focuscam.select.MIN_BINNED_SIDE` pixels,
:func:`~focuscam.select.coarser_bins`), each at a stricter significance factor because several
curves were tried. The autofocus does the same with the frames it has already taken:
:class:`KeptFrames` holds them (up to a memory cap), each candidate re-scores them, and a fresh
strategy seeded with the best candidate's scores goes on searching -- no frame is taken twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["KEEP_BYTES", "MAX_FALLBACKS", "KeptFrames", "fallback_search"]

#: Most bytes of frames one autofocus run keeps for a coarser-binned retry (beyond it, no retry).
KEEP_BYTES = 256 * 2**20


def _auto_and_side(first: np.ndarray, roi: Any) -> tuple[int, int]:
    """The automatic bin factor of ``first`` (a kept frame) and the short side of its ROI (px)."""
    from .measures import resolve_bin
    from .measures._validate import check_roi

    if roi is None:
        side = int(min(first.shape[:2]))
    else:
        _, _, w, h = check_roi(roi, first.shape[0], first.shape[1])
        side = int(min(w, h))
    return int(resolve_bin(first, roi)), side


class KeptFrames:
    """The frames one autofocus run scored, with their z (um), for re-scoring at another bin.

    Copies are kept (a source may reuse its buffers) until ``cap_bytes`` would be exceeded;
    from then on the set is incomplete and :attr:`complete` is False (no retry: a curve with
    holes is not the curve the search saw).
    """

    def __init__(self, cap_bytes: int = KEEP_BYTES) -> None:
        self.cap_bytes = int(cap_bytes)
        self.frames: list[tuple[float, np.ndarray]] = []
        self.bytes = 0
        self.complete = True

    def add(self, z_um: float, pixels: np.ndarray) -> None:
        """Keep a copy of ``pixels`` scored at ``z_um`` (um), while the cap allows."""
        if not self.complete:
            return
        if self.bytes + pixels.nbytes > self.cap_bytes:
            self.frames.clear()
            self.bytes = 0
            self.complete = False
            return
        self.frames.append((float(z_um), np.array(pixels, copy=True)))
        self.bytes += pixels.nbytes

    def scores(self, score) -> list[tuple[float, float]]:
        """``(z_um, score(pixels))`` of every kept frame, in the order taken."""
        return [(z, float(score(p))) for z, p in self.frames]


#: Most searches a failed first search may go on with, one per (measure, bin) candidate, so that
#: a peak-less field fails in bounded frames and time.
MAX_FALLBACKS = 3


def _candidates(af: Any, first_bin: int, side: int) -> list[tuple[str, int, float]]:
    """The (measure, bin, min_snr factor) pairs a failed first search may go on with, in the
    order :func:`fallback_search` ranks them from: the other automatic measures at the same bin
    (at :func:`~focuscam.select.family_min_snr` of their number, as ``select --measure auto``),
    then every measure at each coarser bin (at :data:`~focuscam.select.RETRY_MIN_SNR`, as
    ``select``'s bin retry); the factors scale with the strategy's own ``min_snr``."""
    from .search.significance import MIN_SNR
    from .select import RETRY_MIN_SNR, coarser_bins, family_min_snr

    scale = float(af.strategy_options.get("min_snr", MIN_SNR)) / MIN_SNR
    measures = [af.measure_name, *(m for m in af.fallback_measures if m != af.measure_name)]
    out = [(m, first_bin, family_min_snr(len(measures)) * scale) for m in measures[1:]]
    if af._bin_setting == "auto":
        out += [(m, k, RETRY_MIN_SNR * scale) for k in coarser_bins(first_bin, side) for m in measures]
    return out


def _scores(af: Any, kept: KeptFrames, measure: str, k: int, memo: dict) -> list[tuple[float, float]]:
    """``(z_um, score)`` of every kept frame with ``measure`` at bin ``k`` (this run's loop ROI
    and grid); each frame is scored once per candidate (``memo``), however often it is ranked."""
    done = memo.setdefault((measure, k), [])
    af._measure_name, af.bin = measure, k
    done.extend((z, float(af.score(p))) for z, p in kept.frames[len(done) :])
    return list(done)


def _merit(af: Any, samples: list[tuple[float, float]], factor: float) -> float:
    """How close the curve ``samples`` (``(z_um, score)``) comes to significance at ``factor``:
    its SNR over the threshold (0 when untested)."""
    from .search.significance import test_peak

    z, s = zip(*samples, strict=True)
    res = af.resolution_um if af.resolution_um is not None else (af.hi - af.lo) / 200.0
    sig = test_peak(z, s, mode=af.mode, min_width=res / 4, min_snr=factor,
                    width=af.strategy_options.get("curve_width_um"))  # fmt: skip
    return sig.snr / sig.threshold if sig.tested and sig.threshold > 0 else 0.0


def fallback_search(af: Any, res: Any) -> Any:
    """The failed first search of the :class:`~focuscam.autofocus.Autofocus` ``af`` scored again
    with the other candidates (:func:`_candidates`: other measures with ``measure="auto"``,
    coarser bins with ``bin="auto"``); the candidate whose re-scored curve comes closest to
    significance seeds a fresh strategy that searches on (no frame is taken twice), at that
    candidate's stricter factor; at most :data:`MAX_FALLBACKS` of them, re-ranked on every
    frame kept so far. Returns the first focused result (its reason names what changed;
    ``af.measure_name`` and ``af.bin`` keep it for the lock), else ``res`` (with the first
    measure and bin again)."""
    from .types import FocusState

    kept = af._kept
    if kept is None or not kept.complete or not kept.frames:
        return res
    if res.peak is not None and getattr(res.peak, "at_edge", False):
        return res  # a peak at the end of the range: not a curve drowned in noise
    first_measure = af.measure_name
    first_bin, side = _auto_and_side(kept.frames[0][1], af.roi)
    if af._bin_setting != "auto":
        first_bin = int(af._bin_setting)
    todo = _candidates(af, first_bin, side)
    memo: dict = {}
    tried = []
    for _ in range(min(MAX_FALLBACKS, len(todo))):
        best = max(todo, key=lambda c: _merit(af, _scores(af, kept, c[0], c[1], memo), c[2]))
        todo.remove(best)
        measure, k, factor = best
        seed = _scores(af, kept, measure, k, memo)
        what = f"{measure} at bin {k}" if k != first_bin else measure
        tried.append(what)
        af._emit(
            "state",
            state="retrying",
            reason=f"no significant peak with {first_measure} at bin {first_bin}: {what}",
        )
        # the last samples before the controller decides: an insignificant peak is topped up
        # with planes no sample shows yet (on a replayed stack)
        strategy = af._strategy(af._position(), min_snr=factor, top_up_planes=True)
        for z, s in seed:
            strategy.observe(z, s)
        again = af._search(strategy)
        if again.state == FocusState.FOCUSED:
            note = f" ({what}: with {first_measure} at bin {first_bin} the curve had no significant peak)"
            return replace(again, reason=again.reason + note)
    af._measure_name, af.bin = first_measure, af._bin_setting
    if not tried:
        return res
    return replace(res, reason=f"{res.reason} (then with {', '.join(tried)}: no significant peak either)")
