"""The closed-loop machinery the controller and the focus lock share.

:class:`ClosedLoop` holds a source, a drive and a focus measure and knows how to move the drive
(counting moves and travel, backlash overshoots included), read a *fresh* frame after a move,
stream the frames of a constant-speed move, score a frame and report events. It owns no
search policy: :class:`focuscam.autofocus.Autofocus` (search, final approach, verify) and
:class:`focuscam.lock.FocusLock` (hold focus against drift) are built on it.

:func:`search_bounds` gives the limits a search may re-centre within: the drive's soft limits
less the backlash overshoot on the approach side, moved inward onto the drive's step grid.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ._threads import Worker
from .drives.base import grid_span
from .errors import Aborted, InputError
from .types import ROI, ZUnit

EventCallback = Callable[[str, dict[str, Any]], None]

__all__ = ["ClosedLoop", "EventCallback", "search_bounds", "search_window"]


def search_bounds(drive: Any) -> tuple[float, float]:
    """The ``(lo, hi)`` um a search may use on ``drive``: its limits less the backlash overshoot.

    The overshoot lies below the target when the approach is ``"up"`` (above for ``"down"``);
    both ends are moved inward onto the drive's step grid (``drive.resolution_um``).
    """
    lim = drive.limits
    lo, hi = lim.lo, lim.hi
    backlash = float(getattr(drive, "backlash_um", 0.0) or 0.0)
    if getattr(drive, "approach", "up") == "up":
        lo = min(lo + backlash, hi)
    else:
        hi = max(hi - backlash, lo)
    grid = float(getattr(drive, "resolution_um", 0.0) or 0.0)
    if grid > 0:
        kmin, kmax = grid_span(lo, hi, grid)
        lo, hi = kmin * grid, kmax * grid
    if not lo < hi:
        raise InputError(
            f"the drive limits [{lim.lo:g}, {lim.hi:g}] um leave no room for a search after the "
            f"backlash overshoot ({backlash:g} um) and the {grid:g} um step grid: widen the limits "
            "or reduce the backlash"
        )
    return lo, hi


def search_window(range_um: Any, lo: float, hi: float, *, param: str = "range") -> tuple[float, float]:
    """Validate a search window ``range_um`` (um) against the search bounds ``[lo, hi]`` (um)."""
    if range_um is None:
        return lo, hi
    try:
        wlo, whi = (float(v) for v in range_um)
    except (TypeError, ValueError):
        raise InputError(f"{param} {range_um!r} is not LO,HI: give two numbers in um") from None
    if not (math.isfinite(wlo) and math.isfinite(whi) and wlo < whi):
        raise InputError(f"{param} {wlo:g},{whi:g} um is not a range: give LO < HI in um")
    eps = 1e-9 * max(1.0, abs(lo), abs(hi))
    if wlo < lo - eps or whi > hi + eps:
        raise InputError(
            f"{param} {wlo:g},{whi:g} um leaves the drive limits [{lo:g}, {hi:g}] um (backlash "
            "overshoot room included): narrow the range or widen --limits"
        )
    return max(wlo, lo), min(whi, hi)


class ClosedLoop:
    """Source + drive + measure: moves, fresh frames, scores and events (see the module docstring).

    Parameters
    ----------
    source, drive
        The frame source and the focus drive (positions in um).
    measure : str
        A focus measure name.
    roi, grid, bin, settle_frames, on_event, timeout_s
        As in :class:`focuscam.autofocus.Autofocus`.
    """

    def __init__(
        self,
        source: Any,
        drive: Any,
        *,
        measure: str,
        roi: Any = None,
        grid: tuple[int, int] | None = None,
        bin: int | str = "auto",
        settle_frames: int = 0,
        on_event: EventCallback | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        from .measures import MEASURES

        self.source = source
        self.drive = drive
        self.clock = drive.clock
        if measure not in MEASURES:
            raise InputError(f"measure {measure!r} is unknown: use one of {', '.join(sorted(MEASURES))}")
        self.measure_name = measure
        self.roi = ROI.parse(roi) if isinstance(roi, str) else roi
        self.grid = grid
        if not (bin == "auto" or (isinstance(bin, int) and not isinstance(bin, bool) and 1 <= bin <= 16)):
            raise InputError(f"bin {bin!r} must be an integer 1..16 or 'auto'")
        self.bin = bin
        if isinstance(settle_frames, bool) or not isinstance(settle_frames, int) or settle_frames < 0:
            raise InputError(f"settle_frames {settle_frames!r} must be an integer >= 0")
        self.settle_frames = settle_frames
        self.on_event = on_event
        self.timeout_s = float(timeout_s)
        self._abort = threading.Event()
        self._writer: Any = None
        self._scores: list[float] = []
        self.frames = 0
        self.moves = 0
        self.travel_um = 0.0
        #: ``(z_um, score)`` of the last search frame when it was a fresh frame after a move
        #: (None after a streaming move or before any frame): see :meth:`settled_at`.
        self.settled_sample: tuple[float, float] | None = None

    @property
    def z_unit(self) -> ZUnit:
        """The unit positions are *shown* in: the source's (a twin's stack unit), else um."""
        unit = getattr(self.source, "z_unit", None)
        return unit if isinstance(unit, ZUnit) else ZUnit()

    @property
    def grid_um(self) -> float:
        """The drive's step grid in um (0 = continuous)."""
        return float(getattr(self.drive, "resolution_um", 0.0) or 0.0)

    def _open_writer(self, path: Any, description: str) -> None:
        """Record every scored frame into a z-sweep stack at ``path`` (None: no recording)."""
        if path is not None:
            from ._wallclock import utc_now
            from .ometiff import open_writer  # a stack folder, or OME-TIFF for X.ome.tif

            self._writer = open_writer(
                path,
                name="autofocus",
                kind="z-sweep",
                z_unit="um",
                description=description,
                extra={"recorded_utc": utc_now()},
            )

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.extra["autofocus"] = {"measure": self.measure_name, "scores": self._scores}
            self._writer.close()
            self._writer = None

    def _stopped(self) -> Aborted:
        """Stop the drive after an abort or Ctrl-C; the Aborted error says where it stopped."""
        self.drive.stop()
        try:
            where = self._position()
        except Exception:  # the position may be unreadable after a fault; say so
            where = math.nan
        self._emit("state", state="aborted", z_um=where)
        text = f"{where:.3f} um" if math.isfinite(where) else "an unknown position"
        exc = Aborted(f"autofocus aborted; the drive stopped at {text}")
        exc.position_um = where  # type: ignore[attr-defined]
        return exc

    def _emit(self, kind: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def score(self, pixels: np.ndarray) -> float:
        """The focus score of a frame's pixels with this loop's measure, ROI, grid and bin."""
        from .measures import focus_map, measure, resolve_bin

        if self.grid is not None:
            k = resolve_bin(pixels, self.roi) if self.bin == "auto" else self.bin
            return float(np.median(focus_map(pixels, self.measure_name, self.grid, self.roi, k)))
        return float(measure(pixels, self.measure_name, self.roi, self.bin))

    def _check_abort(self) -> None:
        if self._abort.is_set():
            raise Aborted("autofocus aborted")

    def _position(self) -> float:
        return float(self.drive.position)

    def _move(self, z: float, **tags: Any) -> float:
        self._check_abort()
        try:
            path = self.drive.plan(z)
        except Exception:  # the move itself reports the problem with its own message
            path = [z]
        current = self._position()
        self.settled_sample = None  # a frame from before this move no longer shows where it goes
        for target in path:
            self.travel_um += abs(target - current)
            current = target
        self.moves += 1
        self._emit("move", target_um=z, **tags)
        return float(self.drive.move_to(z))

    def _observe_frame(self, frame: Any, z: float, **tags: Any) -> float:
        s = self.score(frame.pixels)
        self.frames += 1
        self._scores.append(s)
        if self._writer is not None:
            self._writer.append(frame.pixels, z=z, t=frame.t)
        self._emit("sample", z_um=z, score=s, t=frame.t, seq=frame.seq, **tags)
        return s

    def _fresh(self) -> Any:
        frame = self.source.fresh_frame(after=self.clock.now(), timeout=self.timeout_s)
        for _ in range(self.settle_frames):
            frame = self.source.read(timeout=self.timeout_s)
        return frame

    def _stream(self, target: float) -> list[tuple[Any, float]]:
        """Move to ``target`` at the drive's speed and return every frame captured, with its z."""
        t0 = self.clock.now()
        if getattr(self.clock, "virtual", False) and hasattr(self.source, "frames_between"):
            self._move(target)
            frames = self.source.frames_between(t0, self.clock.now())
        else:
            frames = []
            error: list[BaseException] = []

            def mover() -> None:
                try:
                    self._move(target)
                except BaseException as exc:  # re-raised in the calling thread below
                    error.append(exc)

            worker = Worker(mover, "focuscam-stream-move")
            worker.start()
            while worker.running:
                frame = self.source.read(timeout=self.timeout_s)
                if frame.t >= t0:
                    frames.append(frame)
            worker.wait()
            if error:
                raise error[0]
        t_end = self.clock.now()
        return [(f, float(self.drive.position_at(f.t))) for f in frames if t0 <= f.t <= t_end]

    def _search(self, strategy: Any, check: Callable[[], None] | None = None, **tags: Any):
        """Run a strategy in closed loop; ``check()`` runs before every move (may raise)."""
        self._emit("state", state="searching", strategy=strategy.name, **tags)
        while (z := strategy.propose()) is not None:
            self._check_abort()
            if check is not None:
                check()
            if strategy.streaming:
                self.settled_sample = None
                for frame, zf in self._stream(z):
                    strategy.observe(zf, self._observe_frame(frame, zf, **tags))
                strategy.end_stream()
            else:
                reached = self._move(z, **tags)
                frame = self._fresh()
                score = self._observe_frame(frame, reached, **tags)
                strategy.observe(reached, score)
                self.settled_sample = (reached, score)
        return strategy.result()

    def settled_at(self, target: float, tolerance_um: float) -> tuple[float, float] | None:
        """The last search frame's ``(z_um, score)`` when it can stand for a frame at ``target``.

        That is when the frame was a fresh one (captured after the move to its z and the settle
        time, not during a streaming move), the drive has not moved since, and ``target`` (um)
        lies less than ``tolerance_um`` from that z (a move shorter than that is not worth
        taking). Else None.
        """
        last = self.settled_sample
        if last is None or not abs(target - last[0]) < tolerance_um:
            return None
        if getattr(self.drive, "moving", False):
            return None
        if abs(self._position() - last[0]) > 1e-9 * max(1.0, abs(last[0])):
            return None  # something moved the drive since
        return last
