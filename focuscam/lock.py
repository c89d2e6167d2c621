"""The focus lock: hold focus after a focused autofocus run while the sample drifts.

This is the one place that tracks drift. :class:`FocusLock` watches the score of every frame;
when it stays worse than the trigger level x the reference (the score verified after focusing)
for ``drop_frames`` frames in a row, it re-focuses locally with ``hill-climb`` within
``+-range_um`` of the current position, and the score it reaches becomes the new reference.

- **Trigger level.** At most ``threshold`` (0.8) x the reference; sooner when the focus curve
  of the run says so: the level is what the curve predicts half a step (the run's resolution,
  at least one grid step) off the peak -- the smallest drift worth correcting, so a flat-topped
  curve still triggers -- but never closer to the reference than 4 x the frame-to-frame noise
  of the score (a robust estimate from the frames since the drive last moved).

- **Small steps.** The climb starts with a step of the run's resolution and keeps going while
  the score rises, so it follows a drift without wandering far from focus.
- **On the drive's grid.** The climb's steps are whole steps of the drive's grid
  (``drive.resolution_um``; at least one step, never a step the drive would round away), so a
  stepped drive coarser than the default climb step still re-focuses.
- **Hysteresis.** After a successful re-focus the lock re-arms once the score is back above
  ``rearm`` x the reference. A re-focus that cannot help (the score did not improve) leaves the
  drive at the best position it saw (never worse than where it started) and re-arms after a
  hold-off that doubles with every failure in a row (``holdoff_frames``, 2x, 4x, ...): no
  hunting frame after frame, and no lock that never re-arms.
- **Brightfield.** There the focal plane is a contrast minimum: the lock tracks ``1 / score``.
- **One owner.** The lock claims the drive *yielding* (:mod:`focuscam.ownership`): a search or a
  jog pauses it (after the move in progress). When that claim ends the lock resumes: after a
  focused run on the run's verified score; after a failed run it ends (``ended`` says why);
  after a jog on the score at the new position (the user set a new plane to hold).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._threads import Worker
from .errors import Aborted, InputError
from .search import make_strategy

__all__ = ["FocusLock", "LockReport"]


@dataclass(frozen=True)
class LockReport:
    """What a focus lock did: frames watched, re-focuses (and failed ones), final z in um.

    ``ended`` says why the lock stopped: ``"frames"``, ``"duration"``, ``"unlocked"`` or
    ``"search failed"`` (a search that paused the lock did not focus). ``pauses`` counts the
    times another owner (a search, a jog) took the drive.
    """

    frames: int
    refocuses: int
    failed_refocuses: int
    z: float
    reference: float
    moves: int
    travel_um: float
    pauses: int = 0
    ended: str = "frames"


class _Paused(Exception):
    """Internal: another owner asked for the drive; the lock lets go at the next move."""


def _step_ratio(af: Any, quality: Any) -> float:
    """The run's curve half a step off its peak, over the curve at the peak (in quality terms)."""
    run = af.last_result
    if run is None or run.target_z is None or len(run.samples) < 3:
        return 0.0
    z = np.array([p[0] for p in run.samples], dtype=float)
    q = np.array([quality(p[1]) for p in run.samples], dtype=float)
    uz, inv = np.unique(np.round(z, 9), return_inverse=True)
    uq = np.bincount(inv, weights=q) / np.bincount(inv)
    step = max(af.resolution_um or (af.hi - af.lo) / 200.0, af.grid_um)
    peak = float(np.interp(run.target_z, uz, uq))
    if not peak > 0:
        return 0.0
    off = max(np.interp(run.target_z - step / 2, uz, uq), np.interp(run.target_z + step / 2, uz, uq))
    return float(np.clip(off / peak, 0.0, 0.99))


def _noise(recent: deque) -> float | None:
    """A robust frame-to-frame noise of the quality (MAD of differences), None below 5 frames."""
    if len(recent) < 5:
        return None
    d = np.diff(np.asarray(recent, dtype=float))
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def _validate(af: Any, frames: Any, threshold: float, rearm: float, drop_frames: Any, half: float) -> None:
    last = af.last_result
    if last is None or not last.focused or last.verify_score is None:
        raise InputError("lock() needs a focused run first: call run() and check that it focused")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
        raise InputError(f"frames {frames!r} must be an integer >= 1")
    if not 0.0 < float(threshold) < float(rearm) <= 1.0:
        raise InputError(f"threshold {threshold!r} and rearm {rearm!r} need 0 < threshold < rearm <= 1")
    if isinstance(drop_frames, bool) or not isinstance(drop_frames, int) or drop_frames < 1:
        raise InputError(f"drop_frames {drop_frames!r} must be an integer >= 1")
    if not (math.isfinite(half) and half > 0):
        raise InputError(f"range_um {half!r} must be a positive number of um")


class FocusLock:
    """Hold focus for a controller (an :class:`~focuscam.autofocus.Autofocus`) after a focused run."""

    def __init__(self, controller: Any) -> None:
        self.af = controller
        self._unlock = threading.Event()
        self.thread: Worker | None = None
        #: The report of the last lock run in the background (:meth:`start`), or its error.
        self.report: LockReport | BaseException | None = None

    # ------------------------------------------------------------------ helpers
    def _quality(self, score: float) -> float:
        """What the lock maximises: the score, or 1/score in brightfield (a contrast minimum)."""
        if self.af.mode == "brightfield":
            return 1.0 / max(score, 1e-300)
        return score

    def _climb_plan(self, here: float, half: float) -> dict[str, Any]:
        """Bounds, step and resolution of one local climb, in um, on the drive's grid."""
        g = self.af.grid_um
        lo_b, hi_b = self.af.bounds
        res = self.af.resolution_um or 2.0 * half / 50.0
        # a drift is followed step by step: the first step is the resolution (the climb keeps
        # going while the score rises), so a small drift costs a few frames near focus
        step = res
        if g > 0:
            res = max(res, g)
            step = g * max(1, math.ceil(step / g - 1e-9))
            half = max(half, 2.0 * step)
        lo, hi = max(lo_b, here - half), min(hi_b, here + half)
        return {"lo": lo, "hi": hi, "start": min(max(here, lo), hi), "step": step, "resolution": res}

    def _level(self, threshold: float, step_ratio: float, recent: deque, ref: float) -> float:
        sigma = _noise(recent)
        if sigma is None or not ref > 0:
            return threshold
        return max(threshold, min(step_ratio, 1.0 - 4.0 * sigma / ref))

    def _check(self, claim: Any) -> None:
        self.af._check_abort()
        if claim.pause_requested.is_set():
            raise _Paused

    def _refocus(self, claim: Any, here: float, q_here: float, half: float) -> tuple[bool, float]:
        """One local re-focus; returns (improved, quality reached). Leaves the drive at the best z."""
        af = self.af
        plan = self._climb_plan(here, half)
        if not plan["lo"] < plan["hi"]:
            return False, q_here
        climb = make_strategy("hill-climb", grid_um=af.grid_um, **plan)
        af._emit("state", state="searching", strategy=climb.name, lock=True)
        best_z, best_q = here, q_here
        while (z := climb.propose()) is not None:
            self._check(claim)
            reached = af._move(z, lock=True)
            q = self._quality(af._observe_frame(af._fresh(), reached, lock=True))
            climb.observe(reached, q)
            if q > best_q:
                best_z, best_q = reached, q
        res = climb.result()
        target = best_z
        if res.focused and res.z is not None and plan["lo"] <= res.z <= plan["hi"]:
            target = res.z
        self._check(claim)
        reached = af._move(target, lock=True)
        q = self._quality(af._observe_frame(af._fresh(), reached, lock=True))
        if q < best_q and target != best_z:  # the fit was worse than the best sample: go there
            reached = af._move(best_z, lock=True)
            q = self._quality(af._observe_frame(af._fresh(), reached, lock=True))
        return q > q_here, q

    # ------------------------------------------------------------------ public
    def hold(
        self,
        *,
        frames: int | None = None,
        duration_s: float | None = None,
        threshold: float = 0.8,
        drop_frames: int = 3,
        rearm: float = 0.9,
        range_um: float | None = None,
        holdoff_frames: int = 30,
    ) -> LockReport:
        """Hold focus: watch the score, re-focus locally when it drops (see the module docstring).

        Parameters
        ----------
        frames : int, optional
            Stop after this many watched frames.
        duration_s : float, optional
            Stop after this many seconds of the drive's clock. Without ``frames`` and
            ``duration_s`` the lock runs until :meth:`stop` (or the controller's ``abort``).
        threshold, rearm : float
            Fractions of the reference score (0 < threshold < rearm <= 1): the least sensitive
            trigger level (see the module docstring) and the re-arm level after a re-focus.
        drop_frames : int
            Consecutive low frames that trigger a re-focus.
        range_um : float, optional
            Half-width of the re-focus range in um (default a tenth of the search window).
        holdoff_frames : int
            Frames to wait after a failed re-focus before the lock re-arms (doubled after every
            further failure in a row).

        Returns
        -------
        LockReport
        """
        af = self.af
        half = (af.hi - af.lo) / 10.0 if range_um is None else float(range_um)
        _validate(af, frames, threshold, rearm, drop_frames, half)
        if isinstance(holdoff_frames, bool) or not isinstance(holdoff_frames, int) or holdoff_frames < 1:
            raise InputError(f"holdoff_frames {holdoff_frames!r} must be an integer >= 1")
        af._abort.clear()
        self._unlock.clear()
        t_end = None if duration_s is None else af.clock.now() + float(duration_s)
        ref = self._quality(float(af.last_result.verify_score))
        last_run = af.last_result
        seen = low = refocuses = failed = streak = pauses = wait = 0
        armed, ended = True, "unlocked"
        step_ratio = _step_ratio(af, self._quality)
        recent: deque[float] = deque(maxlen=30)
        moves = 0
        travel = 0.0
        claim = af.owner.acquire("focus lock", yielding=True)
        af._emit("state", state="locked", reference=ref)
        try:
            while True:
                if frames is not None and seen >= frames:
                    ended = "frames"
                    break
                if t_end is not None and af.clock.now() >= t_end:
                    ended = "duration"
                    break
                af._check_abort()
                if self._unlock.is_set():
                    break
                if claim.pause_requested.is_set():
                    af.owner.release(claim)
                    pauses += 1
                    af._emit("state", state="lock-paused")
                    if not af.owner.wait_turn(self._unlock):
                        claim = None
                        break
                    claim = af.owner.acquire("focus lock", yielding=True)
                    run = af.last_result
                    if run is not last_run:
                        last_run = run
                        if not run.focused or run.verify_score is None:
                            ended = "search failed"
                            break
                        ref = self._quality(float(run.verify_score))
                        step_ratio = _step_ratio(af, self._quality)
                    else:  # a jog: hold the plane the user chose
                        ref = self._quality(af.score(af._fresh().pixels))
                    armed, low, wait, streak = True, 0, 0, 0
                    recent.clear()
                    af._emit("state", state="locked", reference=ref, z_um=af._position())
                    continue
                frame = af.source.read(timeout=af.timeout_s)
                score = af.score(frame.pixels)
                q = self._quality(score)
                seen += 1
                recent.append(q)
                af._emit("sample", z_um=af.drive.position, score=score, t=frame.t, seq=frame.seq, lock=True)
                if wait > 0:
                    wait -= 1
                    armed = wait == 0
                    continue
                level = self._level(threshold, step_ratio, recent, ref)
                if not armed:
                    armed = q >= max(rearm, 0.5 * (1.0 + level)) * ref
                    continue
                low = low + 1 if q < level * ref else 0
                if low < drop_frames:
                    continue
                low, armed = 0, False
                refocuses += 1
                here = af._position()
                af._emit("refocus", z_um=here, score=q, reference=ref)
                m0, t0 = af.moves, af.travel_um
                try:
                    improved, q_new = self._refocus(claim, here, q, half)
                except _Paused:
                    improved, q_new = False, q
                    refocuses -= 1
                moves += af.moves - m0
                travel += af.travel_um - t0
                recent.clear()  # the drive moved: the noise is measured at rest again
                if claim.pause_requested.is_set():
                    continue
                if improved:
                    ref, streak = q_new, 0
                    af._emit("state", state="locked", reference=ref, z_um=af._position())
                else:
                    failed += 1
                    streak += 1
                    wait = holdoff_frames * 2 ** (streak - 1)
                    af._emit("state", state="refocus-failed", reason="the score did not improve nearby")
        except (Aborted, KeyboardInterrupt):
            af.drive.stop()
            raise
        finally:
            if claim is not None:
                af.owner.release(claim)
        af._emit("state", state="unlocked", reason=ended)
        return LockReport(
            frames=seen,
            refocuses=refocuses,
            failed_refocuses=failed,
            z=af._position(),
            reference=1.0 / ref if af.mode == "brightfield" else ref,
            moves=moves,
            travel_um=travel,
            pauses=pauses,
            ended=ended,
        )

    def start(self, **options: Any) -> None:
        """Run :meth:`hold` on a background thread (for the live window); stop it with :meth:`stop`."""
        if self.thread is not None and self.thread.running:
            raise InputError("the focus lock is already running: unlock() first")
        last = self.af.last_result
        if last is None or not last.focused:
            raise InputError("lock needs a focused run first: run autofocus and check that it focused")

        def body() -> None:
            try:
                self.report = self.hold(**options)
            except BaseException as exc:  # kept for the caller; the thread must not die silently
                self.report = exc
                self.af._emit("state", state="lock-error", error=str(exc))

        self.report = None
        self._unlock.clear()
        self.thread = Worker(body, "focuscam-lock")
        self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> LockReport | BaseException | None:
        """Stop a running lock (a re-focus in progress finishes first); return its outcome."""
        self._unlock.set()
        thread = self.thread
        if thread is not None:
            thread.wait(timeout_s)
        return self.report

    @property
    def running(self) -> bool:
        """True while a background lock runs."""
        return self.thread is not None and self.thread.running
