"""``bin="auto"`` in closed loop: a search whose curve is drowned in pixel noise is scored again
at a coarser binning, as :func:`focuscam.select_plane` does for a stack.

The automatic bin factor (:func:`focuscam.measures.resolve_bin`) comes from the frame's size
and dtype only. On small, dim frames (few photons on a strong background) the focus curve at
that factor can stay flat within noise while 2 x 2 or 4 x 4 binning shows the peak clearly.
``select`` then doubles the factor while the binned ROI keeps
:data:`~focuscam.select.MIN_BINNED_SIDE` pixels (:func:`~focuscam.select.coarser_bins`), with a
stricter significance factor
(:data:`~focuscam.select.RETRY_MIN_SNR`: several curves were tried). The autofocus does the
same with the frames it has already taken: :class:`KeptFrames` holds them (up to a memory
cap), the next factor re-scores them, and a fresh strategy seeded with those scores goes on
searching at that factor -- no frame is taken twice.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

__all__ = ["KEEP_BYTES", "KeptFrames", "coarser_search"]

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


def coarser_search(af: Any, res: Any) -> Any:
    """The failed first search of the :class:`~focuscam.autofocus.Autofocus` ``af`` scored again at
    each coarser factor, each seeding a fresh strategy that searches on at that factor with the
    stricter factor of ``select``'s retry; the first focused result (its reason names the
    factor; ``af.bin`` keeps it), else ``res`` (and ``af.bin`` is ``"auto"`` again)."""
    from .search.significance import MIN_SNR
    from .select import RETRY_MIN_SNR, coarser_bins
    from .types import FocusState

    kept = af._kept
    if kept is None or not kept.complete or not kept.frames:
        return res
    if res.peak is not None and getattr(res.peak, "at_edge", False):
        return res  # a peak at the end of the range: not a curve drowned in noise
    first, side = _auto_and_side(kept.frames[0][1], af.roi)
    min_snr = RETRY_MIN_SNR * float(af.strategy_options.get("min_snr", MIN_SNR)) / MIN_SNR
    for k in coarser_bins(first, side):
        af.bin = k
        af._emit("state", state="retrying", reason=f"no significant peak at bin {first}: bin {k}")
        strategy = af._strategy(af._position(), min_snr=min_snr)
        for z, s in kept.scores(af.score):
            strategy.observe(z, s)
        again = af._search(strategy)
        if again.state == FocusState.FOCUSED:
            note = f" (bin {k}: at bin {first} the curve had no significant peak)"
            return replace(again, reason=again.reason + note)
    af.bin = "auto"
    return res
