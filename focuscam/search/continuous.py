"""``continuous``: one constant-speed move through the window while frames stream.

The strategy proposes the window end nearest the current position (a plain move), then the
far end as a *streaming* move (:attr:`SearchStrategy.streaming` is True): the controller moves
there at constant speed and observes every frame, giving each the z interpolated from the
drive's time/position record at the frame's capture time, then calls
:meth:`SearchStrategy.end_stream`. A peak fit over the streamed samples ends the search.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import SearchStrategy, register_strategy

__all__ = ["Continuous"]


@register_strategy
class Continuous(SearchStrategy):
    """One constant-speed sweep with frames streamed, then a peak fit.

    The sweep runs at the drive's own speed: the number of frames it yields is the move time
    times the frame rate (the twin's drive crosses the whole range in 2 s: about 60 frames at
    30 fps).

    Parameters
    ----------
    **common
        See :class:`~focuscam.search.base.SearchStrategy` (``lo``, ``hi`` in um, ...).
    """

    name = "continuous"
    uniform_samples = True
    streaming_capable = True

    def _pass(self, wlo: float, whi: float) -> Iterator[float]:
        near = self._z[-1] if self._z else self.start
        first, last = (wlo, whi) if abs(near - wlo) <= abs(near - whi) else (whi, wlo)
        self._pending_streaming = False
        yield first
        self._pending_streaming = True
        yield last
        self._pending_streaming = False
