"""The autofocus controller: a source, a measure, a search strategy and a drive in one loop.

:class:`Autofocus` runs a search strategy (:mod:`focuscam.search`) in closed loop:

1. ask the strategy for a position (um), move the drive there (the drive waits for the end of
   the motion and its settle time), then score only a *fresh* frame: one captured after the
   move finished (``source.fresh_frame(after=...)``), skipping ``settle_frames`` more frames;
   a streaming strategy (``continuous``) instead gets every frame captured during one
   constant-speed move, each with the z interpolated from the drive's time/position record at
   the frame's capture time;
2. move to the fitted peak: the drive's backlash compensation makes the final approach come
   from its ``approach`` direction;
3. verify: score a fresh frame there; when it is below ``verify_fraction`` of the curve's score
   at the peak, search once more (``retry``), else report ``failed``. When the search's last
   frame was a fresh one (after its move and the settle time, not streamed) less than
   :data:`~focuscam.search.base.NO_MOVE` (a tenth) of the ``resolution`` from the peak and the
   drive has not moved since, no move is taken: that frame is the verification (no second
   frame at the same place).

:meth:`Autofocus.abort` (from another thread, or the CLI on Ctrl-C) stops the drive; the run
raises :class:`~focuscam.errors.Aborted` whose message (and ``position_um``) tells where the
drive stopped. The focus lock (:mod:`focuscam.lock`, reached through :meth:`Autofocus.lock`,
:meth:`Autofocus.start_lock` and :meth:`Autofocus.unlock`) holds focus after a focused run.

One controller owns the drive at a time (:mod:`focuscam.ownership`): :meth:`Autofocus.run`
claims it for the whole run; a running focus lock pauses first and resumes afterwards (or ends
and reports when the run failed); a second run while one is running is refused
(:class:`~focuscam.errors.DriveBusy`).

The search plans on the drive's step grid (``drive.resolution_um``): strategies get it as
``grid_um`` and every proposal is a grid point inside the search bounds. On a continuous drive
with a source that shows only a replayed stack's planes (its ``distinct_planes_um``, the twin),
strategies that plan on planes (``model``) get them as ``planes_um`` and never ask for a
position that would show a plane already scored (the very same frame again). ``range_um`` is the
first search *window*; a peak at its edge re-centres the window within the drive's limits
(less the backlash overshoot), not within the window.

Events go to ``on_event(kind, data)``: ``"sample"`` (z um, score, t, frame seq), ``"move"``
(target um), ``"state"`` (searching / verifying / retrying / focused / failed / aborted /
locked / refocus-failed), ``"refocus"`` (z um, score, reference), ``"result"``.
"""

from __future__ import annotations

from typing import Any

from ._autofocus_result import AutofocusResult, _Verdict, peak_score, run_result, verified, verify_verdict
from ._loop import ClosedLoop, EventCallback, search_bounds, search_window
from ._measure_choice import AUTO, AUTO_MEASURES, default_measure
from ._rebin import KeptFrames, fallback_search
from .errors import Aborted, InputError
from .lock import FocusLock, LockReport
from .ownership import DriveOwner
from .search import DEFAULT_STRATEGY, STRATEGIES, make_strategy
from .search.base import NO_MOVE
from .types import FocusState

__all__ = ["AUTO", "Autofocus", "AutofocusResult", "FocusLock", "LockReport", "autofocus", "default_measure"]


class Autofocus(ClosedLoop):
    """Closed-loop autofocus: source + measure + strategy + drive.

    Parameters
    ----------
    source : frame source
        Has ``read(timeout)`` and ``fresh_frame(after, timeout)`` returning
        :class:`~focuscam.types.Frame`; a :class:`~focuscam.twin.TwinSource` also has
        ``frames_between(t0, t1)``, used for streaming moves on a virtual clock.
    drive : FocusDrive
        The focus drive; positions in um. Its ``clock`` times the run; its step grid
        (``resolution_um``) is the grid the search plans on.
    strategy : str
        A name in :data:`focuscam.search.STRATEGIES` (default :data:`~focuscam.search.DEFAULT_STRATEGY`).
    range_um : (float, float), optional
        The first search window in um, inside the drive's limits less the backlash overshoot
        (default: all of that). A peak at the window's edge re-centres it within those limits.
    resolution_um : float, optional
        The smallest useful step in um (default 1/200 of the window; never below the drive's grid).
    steps : int, optional
        Planes of the (coarse) sweep, for strategies that sweep (``sweep``: ``points``;
        ``coarse-fine``: ``coarse_points``); refused by the others.
    measure : str, optional
        Focus measure name, or ``"auto"`` (the default): :func:`default_measure` of ``mode``,
        and in max mode, when that curve shows no significant peak, the first search's frames
        are scored again with the other :data:`~focuscam.select.AUTO_MEASURES` and the search
        goes on with the most significant (:mod:`focuscam._rebin`; the result's ``measure``
        says which). A named measure is used alone.
    roi : ROI or (x, y, w, h) or str, optional
        Region scored, in pixels.
    grid : (rows, cols), optional
        Score the ROI as a grid of tiles and use the median tile score.
    bin : int or "auto"
        Binning of the measure: 1..16 or "auto" (default, see :func:`focuscam.measures.resolve_bin`).
        With ``"auto"``, a first search whose curve has no significant peak is scored again
        at coarser factors, as ``select`` does (:mod:`focuscam._rebin`); the factor that
        worked is kept for the focus lock and reported in the result's ``bin``.
    mode : {"max", "brightfield"}
        What the focal plane looks like in the curve.
    settle_frames : int
        Extra frames skipped after the first fresh frame after each move (default 0).
    verify_fraction : float
        After arriving, the fresh score must be at least this fraction of the curve's score at
        the peak (in brightfield: at most the curve's score divided by it) (default 0.8).
    retry : bool
        Search once more when the verification fails (default True).
    strategy_options : dict, optional
        More options for the strategy (``coarse_points``, ``window``, ...).
    on_event : callable, optional
        ``on_event(kind, data)`` for every event.
    record : path, optional
        Record every scored frame (pixels, z um, t s) as a z-sweep stack.
    timeout_s : float
        Timeout for one frame, in s (default 5).
    """

    def __init__(
        self,
        source: Any,
        drive: Any,
        *,
        strategy: str = DEFAULT_STRATEGY,
        range_um: tuple[float, float] | None = None,
        resolution_um: float | None = None,
        steps: int | None = None,
        measure: str | None = None,
        roi: Any = None,
        grid: tuple[int, int] | None = None,
        bin: int | str = "auto",
        mode: str = "max",
        settle_frames: int = 0,
        verify_fraction: float = 0.8,
        retry: bool = True,
        strategy_options: dict[str, Any] | None = None,
        on_event: EventCallback | None = None,
        record: Any = None,
        timeout_s: float = 5.0,
    ) -> None:
        if mode not in ("max", "brightfield"):
            raise InputError(f"mode {mode!r} is unknown: use max or brightfield")
        self.mode = mode
        auto = measure is None or measure == AUTO
        super().__init__(
            source,
            drive,
            measure=default_measure(mode) if auto else measure,
            roi=roi,
            grid=grid,
            bin=bin,
            settle_frames=settle_frames,
            on_event=on_event,
            timeout_s=timeout_s,
        )
        self.bounds = search_bounds(drive)
        self.lo, self.hi = search_window(range_um, *self.bounds)
        self.resolution_um = resolution_um
        self.strategy_name = strategy
        self.strategy_options = dict(strategy_options or {})
        if steps is not None:
            self.strategy_options[_steps_option(strategy, steps)] = steps
        # build one strategy now so that a bad name or option fails before anything moves
        self._strategy(0.5 * (self.lo + self.hi))
        if not 0.0 < float(verify_fraction) <= 1.0:
            raise InputError(f"verify_fraction {verify_fraction!r} must lie in (0, 1], e.g. 0.8")
        self.verify_fraction = float(verify_fraction)
        self.retry = bool(retry)
        self.record = record
        self.owner = DriveOwner.of(drive)
        self.last_result: AutofocusResult | None = None
        self.focus_lock = FocusLock(self)
        self._bin_setting = bin
        self._measure_auto = auto
        self._kept: KeptFrames | None = None

    @property
    def measure_name(self) -> str:
        """The focus measure scoring the frames (after a run: the one that found the focus)."""
        return self._measure_name

    @measure_name.setter
    def measure_name(self, name: str) -> None:
        # a measure named after construction (the window's or the page's choice) is the user's
        self._measure_name = name
        self._measure_auto = False

    @property
    def fallback_measures(self) -> tuple[str, ...]:
        """The measures a failed first search may go on with: :data:`~focuscam.select.AUTO_MEASURES`
        with ``measure="auto"`` in max mode, else only the measure in use."""
        return AUTO_MEASURES if self._measure_auto and self.mode == "max" else (self._measure_name,)

    # ------------------------------------------------------------------ helpers
    def _strategy(self, start: float, **override: Any) -> Any:
        """A fresh strategy over the search bounds, first searching the window, on the drive's grid."""
        lo, hi = self.bounds
        res = self.resolution_um if self.resolution_um is not None else (self.hi - self.lo) / 200.0
        kw: dict[str, Any] = {
            "lo": lo,
            "hi": hi,
            "window": (self.lo, self.hi),
            "mode": self.mode,
            "start": min(max(start, lo), hi),
            "resolution": res,
            "grid_um": self.grid_um,
        }
        cls = STRATEGIES.get(self.strategy_name)
        planes = getattr(self.source, "distinct_planes_um", None)
        if planes is not None and self.grid_um == 0 and getattr(cls, "plans_on_planes", False):
            # a replayed stack: positions that show a plane already scored are not asked again
            kw["planes_um"] = planes
        if len(self.fallback_measures) == 1:
            # no other measure goes on after this search (a named measure; brightfield): an
            # insignificant peak is topped up with planes no sample shows yet at this measure
            # and bin, before the stricter retry at coarser bins
            kw["top_up_planes"] = True
        kw.update(self.strategy_options)
        kw.update(override)
        if "planes_um" not in kw:
            kw.pop("top_up_planes", None)  # only a strategy planning on the planes tops up with them
        return make_strategy(self.strategy_name, **kw)

    # ------------------------------------------------------------------ public
    def abort(self) -> None:
        """Stop the run (and a running lock) from another thread or a signal handler."""
        self._abort.set()
        self.drive.stop()

    def run(self) -> AutofocusResult:
        """Search, move to the peak, verify; return the result.

        A running focus lock pauses for the run (and resumes after a focused one).

        Raises
        ------
        Aborted
            :meth:`abort` was called (or Ctrl-C interrupted the run): the drive was stopped and
            ``exc.position_um`` is where it stopped (um).
        DriveBusy
            Another run or a jog owns the drive.
        """
        claim = self.owner.acquire("autofocus")
        try:
            return self._claimed_run()
        finally:
            self.owner.release(claim)

    def _claimed_run(self) -> AutofocusResult:
        self._abort.clear()
        t_start = self.clock.now()
        self.frames = self.moves = 0
        self.travel_um = 0.0
        self._scores = []
        self.bin = self._bin_setting
        if self._measure_auto:
            self._measure_name = default_measure(self.mode)
        fallback = self.bin == "auto" or len(self.fallback_measures) > 1
        self._kept = KeptFrames() if fallback and self.grid is None else None
        self._open_writer(self.record, f"autofocus run: {self.strategy_name} with {self.measure_name}")
        try:
            v = self._run()
        except (Aborted, KeyboardInterrupt):
            raise self._stopped() from None
        finally:
            self._kept = None
            self._close_writer()
        out = run_result(v, self, self.clock.now() - t_start)
        self._emit("state", state=out.state, z_um=out.z)
        self._emit("result", result=out)
        self.last_result = out
        return out

    def _run(self) -> _Verdict:
        start = self._position()
        samples: list[tuple[float, float]] = []
        searches = 0
        while True:
            searches += 1
            strategy = self._strategy(start)
            res = self._search(strategy)
            if searches == 1 and res.state != FocusState.FOCUSED and self._kept is not None:
                res = self._fallback(res)
            samples.extend(res.samples)
            if res.state != FocusState.FOCUSED or res.z is None:
                return _Verdict(
                    self._position(), FocusState.FAILED, res.reason, res.confidence, tuple(samples),
                    searches, target=res.z,
                )  # fmt: skip
            # on a stepped drive the peak is reached at its nearest grid point: verify there
            target = self.drive.quantise(res.z) if self.grid_um > 0 else res.z
            ref = peak_score(res.samples, target)
            # the last search frame stands for the verification when it was scored, after the
            # move and the settle time, within NO_MOVE resolution steps of the peak (a move that
            # short is not taken): the drive is there and the frame is fresh
            last = self.settled_at(target, NO_MOVE * strategy.resolution)
            if last is not None and verified(last[1], ref, self.mode, self.verify_fraction):
                self._emit("state", state="verifying", target_um=target, reused_frame=True)
                return verify_verdict(res, last[0], last[1], ref, samples, searches)
            self._emit("state", state="verifying", target_um=target)
            reached = self._move(target)
            verify = self._observe_frame(self._fresh(), reached)
            samples.append((reached, verify))
            if verified(verify, ref, self.mode, self.verify_fraction):
                return verify_verdict(res, reached, verify, ref, samples, searches)
            if not self.retry or searches >= 2:
                return verify_verdict(res, reached, verify, ref, samples, searches, self.verify_fraction)
            self._emit("state", state="retrying", reason="verification failed")
            start = reached

    def _observe_frame(self, frame: Any, z: float, **tags: Any) -> float:
        s = super()._observe_frame(frame, z, **tags)
        if self._kept is not None:
            self._kept.add(z, frame.pixels)
        return s

    def _fallback(self, res: Any) -> Any:
        """The failed first search scored again with other measures (``measure="auto"``) and at
        coarser bins (``bin="auto"``), and searched on with the best (:mod:`focuscam._rebin`)."""
        return fallback_search(self, res)

    # ------------------------------------------------------------------ focus lock (lock.py)
    def lock(self, **options: Any) -> LockReport:
        """Hold focus after :meth:`run` (see :meth:`focuscam.lock.FocusLock.hold` for the options)."""
        return self.focus_lock.hold(**options)

    def start_lock(self, **options: Any) -> None:
        """Hold focus on a background thread (the options of :meth:`lock`); stop with :meth:`unlock`."""
        self.focus_lock.start(**options)

    def unlock(self, timeout_s: float = 10.0) -> LockReport | BaseException | None:
        """Stop a running focus lock (a re-focus in progress finishes first); return its outcome."""
        return self.focus_lock.stop(timeout_s)

    @property
    def lock_report(self) -> LockReport | BaseException | None:
        """The report of the last background lock (:meth:`start_lock`), or its error."""
        return self.focus_lock.report

    @property
    def _lock_thread(self) -> Any:
        return self.focus_lock.thread

    def jog(self, dz_um: float) -> float:
        """Move the drive by ``dz_um`` (um) as its owner (a running lock pauses, then holds the new z)."""
        with self.owner.claim("jog"):
            self.settled_sample = None
            return float(self.drive.move_by(dz_um))


def _steps_option(strategy: str, steps: Any) -> str:
    """The option of ``strategy`` that ``steps`` (planes of a sweep) sets; refuse the others."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 3:
        raise InputError(f"steps {steps!r} must be an integer >= 3 (planes of a sweep)")
    cls = STRATEGIES.get(strategy)
    option = getattr(cls, "steps_option", None) if cls is not None else None
    if option is None:
        sweeping = sorted(n for n, c in STRATEGIES.items() if getattr(c, "steps_option", None))
        raise InputError(
            f"steps (planes of a sweep) does not apply to strategy {strategy!r}: "
            f"use it with {' or '.join(sweeping)}, or leave it out"
        )
    return option


def autofocus(source: Any, drive: Any, **options: Any) -> AutofocusResult:
    """Run one closed-loop autofocus (see :class:`Autofocus` for the options)."""
    return Autofocus(source, drive, **options).run()
