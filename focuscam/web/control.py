"""The server's use of :class:`focuscam.autofocus.Autofocus`, kept in this one small adapter.

Only the controller's public API is used here (``Autofocus(...)``, ``run``, ``abort``,
``start_lock``, ``unlock``, ``last_result``, ``on_event``), so a refactoring of its internals
(such as moving the focus lock into its own module) touches this file only.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConflictError

__all__ = ["FocusController", "model_curve"]


class FocusController:
    """Autofocus runs and the focus lock on one source and one drive.

    Parameters
    ----------
    source : FrameSource
        The frames the controller scores (a hub tap).
    drive : FocusDrive
        The focus drive (positions in um).
    on_event : callable
        ``on_event(kind, data)`` for every event of the controller (sample, move, state, ...).
    options : dict
        Fixed options of every run (``resolution_um``, ``mode`` on the twin).
    """

    def __init__(self, source: Any, drive: Any, on_event: Callable[[str, dict], Any], **options: Any) -> None:
        self.source = source
        self.drive = drive
        self.on_event = on_event
        self.options = options
        self._af: Any = None
        self._locked = threading.Event()

    def prepare(self, *, strategy: str | None, range_um: Any, measure: str | None, roi: Any) -> Any:
        """A configured :class:`Autofocus` (raises InputError for a bad option; nothing moves)."""
        from ..autofocus import Autofocus
        from ..search import DEFAULT_STRATEGY

        return Autofocus(
            self.source,
            self.drive,
            strategy=strategy or DEFAULT_STRATEGY,
            range_um=range_um,
            measure=measure,
            roi=roi,
            on_event=self._event,
            **self.options,
        )

    def run(self, af: Any) -> Any:
        """Run ``af`` (blocking; on the server's drive worker); its result becomes the last one."""
        self._af = af
        return af.run()

    def _event(self, kind: str, data: dict) -> None:
        if kind == "state" and data.get("state") == "lock-error":
            self._locked.clear()
        self.on_event(kind, data)

    @property
    def last_result(self) -> Any:
        """The last :class:`AutofocusResult`, or None."""
        return None if self._af is None else self._af.last_result

    @property
    def locked(self) -> bool:
        """True while the focus lock holds the drive."""
        return self._locked.is_set()

    @property
    def measure(self) -> str | None:
        """The measure of the last run."""
        return None if self._af is None else self._af.measure_name

    def lock(self) -> None:
        """Start the focus lock on the last run's settings (409 without a focused run)."""
        result = self.last_result
        if result is None or not result.focused:
            raise ConflictError("lock needs a focused autofocus run first: run autofocus, then lock")
        if self.locked:
            raise ConflictError("the focus lock is already on: unlock first")
        self._locked.set()
        try:
            self._af.start_lock()
        except BaseException:
            self._locked.clear()
            raise

    def unlock(self) -> None:
        """Stop the focus lock (the current re-focus finishes first)."""
        if self._af is not None:
            self._af.unlock()
        self._locked.clear()

    def abort(self) -> None:
        """Abort a run or the lock at once (the drive stops)."""
        if self._af is not None:
            self._af.abort()
        if self.locked:
            self.unlock()


def model_curve(samples: Any, peak_z: float | None, points: int = 41, window: int = 5) -> list[list[float]]:
    """The model drawn through the focus curve's peak: a Gaussian fitted to its top samples.

    A parabola is fitted by least squares to the log of the ``window`` positive scores nearest
    the peak (a Gaussian); when that is not a downward parabola (or too few samples), a plain
    parabola is fitted to the scores. Display only: the search's own fit decides the peak.

    Returns
    -------
    list of [z_um, score]
        ``points`` points across the fitted samples' z span; empty when nothing can be fitted.
    """
    if peak_z is None or not math.isfinite(peak_z):
        return []
    pts = np.array([(z, s) for z, s in samples if math.isfinite(z) and math.isfinite(s)], dtype=float)
    if len(pts) < 3:
        return []
    z, s = pts[:, 0], pts[:, 1]
    near = np.argsort(np.abs(z - peak_z), kind="stable")
    _, first = np.unique(z[near], return_index=True)
    near = near[np.sort(first)][:window]
    if len(near) < 3:
        return []
    zn, sn = z[near], s[near]
    grid = np.linspace(zn.min(), zn.max(), points)
    if np.all(sn > 0):
        a = np.polyfit(zn, np.log(sn), 2)
        if a[0] < 0:
            return [[float(g), float(v)] for g, v in zip(grid, np.exp(np.polyval(a, grid)), strict=True)]
    a = np.polyfit(zn, sn, 2)
    return [[float(g), float(v)] for g, v in zip(grid, np.polyval(a, grid), strict=True)]
