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
   at the peak, search once more (``retry``), else report ``failed``.

:meth:`Autofocus.abort` (from another thread, or the CLI on Ctrl-C) stops the drive; the run
raises :class:`~focuscam.errors.Aborted` whose message (and ``position_um``) tells where the
drive stopped. :meth:`Autofocus.lock` keeps watching the score after focusing and re-focuses
locally with ``hill-climb`` when it drops, with hysteresis.

Events go to ``on_event(kind, data)``: ``"sample"`` (z um, score, t, frame seq), ``"move"``
(target um), ``"state"`` (searching / verifying / retrying / focused / failed / aborted /
locked / refocus-failed), ``"refocus"`` (z um, score, reference), ``"result"``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._threads import Worker
from .errors import Aborted, InputError
from .search import DEFAULT_STRATEGY, make_strategy
from .types import ROI, FocusState

__all__ = ["Autofocus", "AutofocusResult", "autofocus", "default_measure"]

EventCallback = Callable[[str, dict[str, Any]], None]


def default_measure(mode: str) -> str:
    """The measure used when none is named: ``lapv``; ``glvn`` in brightfield.

    In brightfield the focal plane is the contrast minimum; the normalised gray-level variance
    (variance / mean, like the standard deviation that BFAutofocus uses) shows that minimum
    clearly, where Laplacian measures are dominated by the edges of the two maxima.
    """
    return "glvn" if mode == "brightfield" else "lapv"


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

    @property
    def focused(self) -> bool:
        """True when the state is ``"focused"``."""
        return self.state == FocusState.FOCUSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; positions in um, times in s."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
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
            "reason": self.reason,
            "samples": [[float(z), float(s)] for z, s in self.samples],
        }


class Autofocus:
    """Closed-loop autofocus: source + measure + strategy + drive.

    Parameters
    ----------
    source : frame source
        Has ``read(timeout)`` and ``fresh_frame(after, timeout)`` returning
        :class:`~focuscam.types.Frame`; a :class:`~focuscam.twin.TwinSource` also has
        ``frames_between(t0, t1)``, used for streaming moves on a virtual clock.
    drive : FocusDrive
        The focus drive; positions in um. Its ``clock`` times the run.
    strategy : str
        A name in :data:`focuscam.search.STRATEGIES` (default ``model``).
    range_um : (float, float), optional
        The search range in um, inside the drive's limits (default the limits, less the
        backlash overshoot on the approach side).
    resolution_um : float, optional
        The smallest useful step in um (default 1/200 of the range).
    measure : str, optional
        Focus measure name (default :func:`default_measure` of ``mode``).
    roi : ROI or (x, y, w, h) or str, optional
        Region scored, in pixels.
    grid : (rows, cols), optional
        Score the ROI as a grid of tiles and use the median tile score (robust against one
        bright speck dominating the ROI).
    bin : int or "auto"
        Binning of the measure: 1..16 or "auto" (default, see :func:`focuscam.measures.resolve_bin`).
    mode : {"max", "brightfield"}
        What the focal plane looks like in the curve.
    settle_frames : int
        Extra frames skipped after the first fresh frame after each move (default 0).
    verify_fraction : float
        After arriving, the fresh score must be at least this fraction of the curve's score at
        the peak, interpolated between the samples (in brightfield, where the focal plane is a
        minimum: at most the curve's score divided by this fraction) (default 0.8).
    retry : bool
        Search once more when the verification fails (default True).
    strategy_options : dict, optional
        More options for the strategy (``coarse_points``, ``window``, ...).
    on_event : callable, optional
        ``on_event(kind, data)`` for every event.
    record : path, optional
        Record every scored frame (pixels, z um, t s) as a z-sweep stack with
        :class:`~focuscam.stacks.StackWriter`; the scores go into ``stack.json`` under
        ``"autofocus"``.
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
        from .measures import MEASURES

        self.source = source
        self.drive = drive
        self.clock = drive.clock
        if mode not in ("max", "brightfield"):
            raise InputError(f"mode {mode!r} is unknown: use max or brightfield")
        self.mode = mode
        self.measure_name = default_measure(mode) if measure is None else measure
        if self.measure_name not in MEASURES:
            raise InputError(
                f"measure {self.measure_name!r} is unknown: use one of {', '.join(sorted(MEASURES))}"
            )
        if isinstance(roi, str):
            roi = ROI.parse(roi)
        self.roi = roi
        self.grid = grid
        self.bin = bin
        lim = drive.limits
        if range_um is None:
            # leave room for the backlash overshoot below (approach "up") or above the range
            lo, hi = lim.lo, lim.hi
            backlash = float(getattr(drive, "backlash_um", 0.0) or 0.0)
            if getattr(drive, "approach", "up") == "up":
                lo = min(lo + backlash, hi)
            else:
                hi = max(hi - backlash, lo)
            if not lo < hi:
                raise InputError(
                    f"the drive limits [{lim.lo:g}, {lim.hi:g}] um leave no room for the backlash "
                    f"overshoot ({backlash:g} um): widen the limits or reduce the backlash"
                )
        else:
            try:
                lo, hi = (float(v) for v in range_um)
            except (TypeError, ValueError):
                raise InputError(f"range {range_um!r} is not LO,HI: give two numbers in um") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InputError(f"range {lo:g},{hi:g} um is not a range: give LO < HI in um")
            if not (lim.contains(lo) and lim.contains(hi)):
                raise InputError(
                    f"range {lo:g},{hi:g} um leaves the drive limits [{lim.lo:g}, {lim.hi:g}] um: "
                    "narrow the range"
                )
        self.lo, self.hi = lo, hi
        self.resolution_um = resolution_um
        self.strategy_name = strategy
        self.strategy_options = dict(strategy_options or {})
        # build one strategy now so that a bad name or option fails before anything moves
        make_strategy(strategy, **self._strategy_kwargs(0.5 * (lo + hi)))
        if isinstance(settle_frames, bool) or not isinstance(settle_frames, int) or settle_frames < 0:
            raise InputError(f"settle_frames {settle_frames!r} must be an integer >= 0")
        self.settle_frames = settle_frames
        if not 0.0 < float(verify_fraction) <= 1.0:
            raise InputError(f"verify_fraction {verify_fraction!r} must lie in (0, 1], e.g. 0.8")
        self.verify_fraction = float(verify_fraction)
        self.retry = bool(retry)
        self.on_event = on_event
        self.record = record
        self.timeout_s = float(timeout_s)
        self._abort = threading.Event()
        self.last_result: AutofocusResult | None = None
        self._unlock = threading.Event()
        self._lock_thread: Worker | None = None
        #: The report of the last lock run in the background (:meth:`start_lock`), or its error.
        self.lock_report: LockReport | BaseException | None = None
        self._writer = None
        self._scores: list[float] = []
        self.frames = 0
        self.moves = 0
        self.travel_um = 0.0

    # ------------------------------------------------------------------ helpers
    def _strategy_kwargs(self, start: float) -> dict[str, Any]:
        kw: dict[str, Any] = {"lo": self.lo, "hi": self.hi, "mode": self.mode, "start": start}
        if self.resolution_um is not None:
            kw["resolution"] = self.resolution_um
        kw.update(self.strategy_options)
        return kw

    def _emit(self, kind: str, **data: Any) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def score(self, pixels: np.ndarray) -> float:
        """The focus score of a frame's pixels with this controller's measure, ROI, grid and bin."""
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

    def _move(self, z: float) -> float:
        self._check_abort()
        try:
            path = self.drive.plan(z)
        except Exception:  # the move itself reports the problem with its own message
            path = [z]
        current = self._position()
        for target in path:
            self.travel_um += abs(target - current)
            current = target
        self.moves += 1
        self._emit("move", target_um=z)
        return float(self.drive.move_to(z))

    def _observe_frame(self, frame: Any, z: float) -> float:
        s = self.score(frame.pixels)
        self.frames += 1
        self._scores.append(s)
        if self._writer is not None:
            self._writer.append(frame.pixels, z=z, t=frame.t)
        self._emit("sample", z_um=z, score=s, t=frame.t, seq=frame.seq)
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
        out = []
        for f in frames:
            if t0 <= f.t <= t_end:
                out.append((f, float(self.drive.position_at(f.t))))
        return out

    def _search(self, start: float, strategy: Any = None):
        if strategy is None:
            strategy = make_strategy(self.strategy_name, **self._strategy_kwargs(start))
        self._emit("state", state="searching", strategy=strategy.name)
        while (z := strategy.propose()) is not None:
            self._check_abort()
            if strategy.streaming:
                for frame, zf in self._stream(z):
                    strategy.observe(zf, self._observe_frame(frame, zf))
                strategy.end_stream()
            else:
                reached = self._move(z)
                frame = self._fresh()
                strategy.observe(reached, self._observe_frame(frame, reached))
        return strategy.result()

    def _peak_score(self, result, z: float) -> float:
        zs = np.array([p[0] for p in result.samples])
        ss = np.array([p[1] for p in result.samples])
        order = np.argsort(zs)
        return float(np.interp(z, zs[order], ss[order]))

    def _verified(self, score: float, ref: float) -> bool:
        if self.mode == "brightfield":
            # the focal plane is a contrast minimum: a lower score than the curve's is no fault
            return score * self.verify_fraction <= ref
        return score >= self.verify_fraction * ref

    # ------------------------------------------------------------------ public
    def abort(self) -> None:
        """Stop the run from another thread (or a signal handler): stops the drive at once."""
        self._abort.set()
        self.drive.stop()

    def run(self) -> AutofocusResult:
        """Search, move to the peak, verify; return the result.

        Raises
        ------
        Aborted
            :meth:`abort` was called (or Ctrl-C interrupted the run): the drive was stopped and
            ``exc.position_um`` is where it stopped (um).
        """
        self._abort.clear()
        t_start = self.clock.now()
        self.frames = self.moves = 0
        self.travel_um = 0.0
        self._scores = []
        if self.record is not None:
            from .stacks import StackWriter

            self._writer = StackWriter(
                self.record,
                name="autofocus",
                kind="z-sweep",
                z_unit="um",
                description=f"autofocus run: {self.strategy_name} with {self.measure_name}",
            )
        try:
            result = self._run()
        except (Aborted, KeyboardInterrupt):
            self.drive.stop()
            try:
                where = self._position()
            except Exception:  # the position may be unreadable after a fault; say so
                where = math.nan
            self._emit("state", state="aborted", z_um=where)
            text = f"{where:.3f} um" if math.isfinite(where) else "an unknown position"
            exc = Aborted(f"autofocus aborted; the drive stopped at {text}")
            exc.position_um = where  # type: ignore[attr-defined]
            raise exc from None
        finally:
            if self._writer is not None:
                self._writer.extra["autofocus"] = {"measure": self.measure_name, "scores": self._scores}
                self._writer.close()
                self._writer = None
        elapsed = self.clock.now() - t_start
        out = AutofocusResult(
            z=result["z"],
            state=result["state"],
            confidence=result["confidence"],
            frames=self.frames,
            moves=self.moves,
            travel_um=self.travel_um,
            elapsed_s=elapsed,
            samples=result["samples"],
            reason=result["reason"],
            strategy=self.strategy_name,
            target_z=result["target"],
            verify_score=result["verify"],
            peak_score=result["peak"],
            searches=result["searches"],
            measure=self.measure_name,
        )
        self._emit("state", state=out.state, z_um=out.z)
        self._emit("result", result=out)
        self.last_result = out
        return out

    def _run(self) -> dict[str, Any]:
        start = min(max(self._position(), self.lo), self.hi)
        samples: list[tuple[float, float]] = []
        searches = 0
        while True:
            searches += 1
            res = self._search(start)
            samples.extend(res.samples)
            base = {"samples": tuple(samples), "searches": searches, "confidence": res.confidence}
            if res.state != FocusState.FOCUSED or res.z is None:
                here = self._position()
                return {
                    **base,
                    "z": here,
                    "state": FocusState.FAILED,
                    "reason": res.reason,
                    "target": res.z,
                    "verify": None,
                    "peak": None,
                }
            self._emit("state", state="verifying", target_um=res.z)
            reached = self._move(res.z)
            verify = self._observe_frame(self._fresh(), reached)
            samples.append((reached, verify))
            ref = self._peak_score(res, res.z)
            base["samples"] = tuple(samples)
            if self._verified(verify, ref):
                return {
                    **base,
                    "z": reached,
                    "state": FocusState.FOCUSED,
                    "reason": res.reason,
                    "target": res.z,
                    "verify": verify,
                    "peak": ref,
                }
            if not self.retry or searches >= 2:
                return {
                    **base,
                    "z": reached,
                    "state": FocusState.FAILED,
                    "reason": (
                        f"score after arriving ({verify:.4g}) is not within "
                        f"{self.verify_fraction:g} of the peak's ({ref:.4g}): the scene changed or "
                        "the drive did not reach the peak"
                    ),
                    "target": res.z,
                    "verify": verify,
                    "peak": ref,
                    "confidence": 0.0,
                }
            self._emit("state", state="retrying", reason="verification failed")
            start = reached

    # ------------------------------------------------------------------ focus lock
    def lock(
        self,
        *,
        frames: int | None = None,
        duration_s: float | None = None,
        threshold: float = 0.8,
        drop_frames: int = 3,
        rearm: float = 0.9,
        range_um: float | None = None,
    ) -> LockReport:
        """Hold focus after :meth:`run`: watch the score, re-focus locally when it drops.

        Every frame is scored. When the score stays below ``threshold`` x the reference (the
        score verified after focusing) for ``drop_frames`` frames in a row, a ``hill-climb``
        search within ``+-range_um`` of the current position (inside the search range) re-focuses
        and its verified score becomes the new reference. Hysteresis: after a re-focus the lock
        re-arms only once the score is back above ``rearm`` x the reference, so a re-focus that
        cannot help is not repeated frame after frame (no hunting).

        Parameters
        ----------
        frames : int, optional
            Stop after this many frames.
        duration_s : float, optional
            Stop after this many seconds of the drive's clock. Without ``frames`` and
            ``duration_s`` the lock runs until :meth:`unlock` (or :meth:`abort`).
        threshold, rearm : float
            Fractions of the reference score (0 < threshold < rearm <= 1).
        drop_frames : int
            Consecutive low frames that trigger a re-focus.
        range_um : float, optional
            Half-width of the re-focus range in um (default a tenth of the search range).

        Returns
        -------
        LockReport
        """
        if self.last_result is None or not self.last_result.focused or self.last_result.verify_score is None:
            raise InputError("lock() needs a focused run first: call run() and check that it focused")
        if self.mode != "max":
            raise InputError("focus lock climbs to a maximum: it does not apply in brightfield mode")
        if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
            raise InputError(f"frames {frames!r} must be an integer >= 1")
        if not 0.0 < float(threshold) < float(rearm) <= 1.0:
            raise InputError(f"threshold {threshold!r} and rearm {rearm!r} need 0 < threshold < rearm <= 1")
        if isinstance(drop_frames, bool) or not isinstance(drop_frames, int) or drop_frames < 1:
            raise InputError(f"drop_frames {drop_frames!r} must be an integer >= 1")
        half = (self.hi - self.lo) / 10.0 if range_um is None else float(range_um)
        if not (math.isfinite(half) and half > 0):
            raise InputError(f"range_um {range_um!r} must be a positive number of um")
        self._abort.clear()
        self._unlock.clear()
        reference = float(self.last_result.verify_score)
        t_end = None if duration_s is None else self.clock.now() + float(duration_s)
        seen = low = refocuses = failed = 0
        armed = True
        moves0, travel0 = self.moves, self.travel_um
        self._emit("state", state="locked", reference=reference)
        try:
            while (frames is None or seen < frames) and (t_end is None or self.clock.now() < t_end):
                self._check_abort()
                if self._unlock.is_set():
                    break
                frame = self.source.read(timeout=self.timeout_s)
                s = self.score(frame.pixels)
                seen += 1
                self._emit("sample", z_um=self.drive.position, score=s, t=frame.t, seq=frame.seq, lock=True)
                if not armed:
                    armed = s >= rearm * reference
                    continue
                low = low + 1 if s < threshold * reference else 0
                if low < drop_frames:
                    continue
                low, armed = 0, False
                refocuses += 1
                here = self._position()
                lo, hi = max(self.lo, here - half), min(self.hi, here + half)
                climb = make_strategy(
                    "hill-climb",
                    lo=lo,
                    hi=hi,
                    start=min(max(here, lo), hi),
                    step=half / 4,
                    resolution=self.resolution_um or (hi - lo) / 50,
                )
                self._emit("refocus", z_um=here, score=s, reference=reference)
                res = self._search(here, climb)
                if res.focused and res.z is not None:
                    reached = self._move(res.z)
                    reference = self._observe_frame(self._fresh(), reached)
                    self._emit("state", state="locked", reference=reference, z_um=reached)
                else:
                    failed += 1
                    self._emit("state", state="refocus-failed", reason=res.reason)
        except (Aborted, KeyboardInterrupt):
            self.drive.stop()
            raise
        return LockReport(
            frames=seen,
            refocuses=refocuses,
            failed_refocuses=failed,
            z=self._position(),
            reference=reference,
            moves=self.moves - moves0,
            travel_um=self.travel_um - travel0,
        )

    def start_lock(self, **options: Any) -> None:
        """Run :meth:`lock` on a background thread (for the live window); stop it with :meth:`unlock`.

        The options are those of :meth:`lock`; they are checked before the thread starts. The
        outcome (a :class:`LockReport` or the error) lands in :attr:`lock_report`.
        """
        if self._lock_thread is not None and self._lock_thread.running:
            raise InputError("the focus lock is already running: unlock() first")
        if self.last_result is None or not self.last_result.focused:
            raise InputError("lock needs a focused run first: run autofocus and check that it focused")

        def body() -> None:
            try:
                self.lock_report = self.lock(**options)
            except BaseException as exc:  # kept for the caller; the thread must not die silently
                self.lock_report = exc
                self._emit("state", state="lock-error", error=str(exc))

        self.lock_report = None
        self._lock_thread = Worker(body, "focuscam-lock")
        self._lock_thread.start()

    def unlock(self, timeout_s: float = 10.0) -> LockReport | BaseException | None:
        """Stop a running focus lock (the current re-focus finishes first); return its outcome."""
        self._unlock.set()
        thread = self._lock_thread
        if thread is not None:
            thread.wait(timeout_s)
        return self.lock_report


@dataclass(frozen=True)
class LockReport:
    """What a focus lock did: frames watched, re-focuses (and failed ones), final z in um."""

    frames: int
    refocuses: int
    failed_refocuses: int
    z: float
    reference: float
    moves: int
    travel_um: float


def autofocus(source: Any, drive: Any, **options: Any) -> AutofocusResult:
    """Run one closed-loop autofocus (see :class:`Autofocus` for the options)."""
    return Autofocus(source, drive, **options).run()
