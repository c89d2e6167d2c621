"""The sharpness-monitor pipeline: frames from a source are scored on a worker thread.

Threads (no UI code here):

- the source's own grab thread (for a :class:`~focuscam.sources.CameraSource`) captures frames
  into its bounded newest-frames buffer;
- the **scoring worker** reads frames from the source and computes the focus measure (and the
  focus map when a grid is asked) for every frame. The numba kernels release the GIL, so
  scoring runs beside the grab thread's decoding;
- with ``blur="async"`` (the default), a **blur worker** computes the blur verdict
  (:func:`~focuscam.measures.blur_report`, much slower than a focus measure) on the newest frame
  at most ``blur_rate`` times per second (with a source of nominal frame rate, on every
  ``ceil(fps / blur_rate)``-th frame of its sequence: a replay judges the same frames every
  time); every sample carries the latest verdict and the
  ``blur_seq`` of the frame it was computed on. ``blur="sync"`` computes it for every frame on
  the scoring worker (each sample then carries its own frame's verdict); ``blur="off"`` never.
  The end of a run never loses the last frame's verdict silently: the last frame of a
  ``frames`` limit is judged on the scoring worker before its sample is sent, and when a stream
  ends (or a ``seconds`` limit passes) and the last sample did not carry its own frame's
  verdict, the scoring worker computes it and sends one more sample for that frame with
  ``late=True``.

Every scored frame becomes a :class:`MonitorSample`, handed to each subscribed callback (on
the scoring worker) and put into a bounded queue read by :meth:`Monitor.samples` (when the
queue is full, its oldest sample is dropped and counted). :meth:`Monitor.stop` stops and joins
every thread; errors of a worker (a source that failed, a bad ROI, a callback that raised) stop
the monitor and are raised again by :meth:`Monitor.wait`.

The blur verdicts, the sample outlet (callbacks and queue), the frame rate and the limits of a
run are collaborators of the monitor in :mod:`focuscam._monitor_parts`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from ._monitor_parts import BlurVerdicts, FrameRate, RunLimits, SampleOutlet, blur_verdict
from ._threads import Worker
from .errors import InputError, SourceError
from .sources.base import FrameSource, check_limits
from .types import ROI, Frame

__all__ = ["BLUR_MODES", "Monitor", "MonitorSample"]

#: Accepted values of ``Monitor(blur=...)``.
BLUR_MODES = ("async", "sync", "off")


@dataclass(frozen=True)
class MonitorSample:
    """The monitor's result for one frame.

    Attributes
    ----------
    t : float
        Capture time of the frame, ``time.monotonic()`` seconds.
    seq : int
        The frame's sequence number from the source.
    score : float
        The focus measure of the frame's ROI (higher = sharper).
    measure : str
        Name of the focus measure (e.g. ``"lapv"``).
    blur : dict or None
        The latest blur verdict (``BlurReport.to_dict()``: ``is_blurred``, ``per``,
        ``blur_extent``, ...), or None before the first one (or with ``blur="off"``).
    blur_seq : int or None
        Sequence number of the frame the verdict was computed on.
    focus_map : ndarray or None
        The measure per tile, shape ``(rows, cols)``, when a grid was asked.
    measure_ms : float
        Milliseconds spent scoring this frame on the worker (measure, map, sync blur).
    fps : float
        Frames scored per second over the last frames (by their capture times); 0.0 at first.
    dropped : int
        Frames the source discarded so far because the consumer was slower.
    z : float or None
        Focus position of the frame in um, when the source knows it.
    late : bool
        True for the one extra sample sent at the end of a stream (async blur): it repeats the
        last frame's score with that frame's own verdict (``blur_seq == seq``).
    """

    t: float
    seq: int
    score: float
    measure: str
    blur: dict[str, Any] | None
    blur_seq: int | None
    focus_map: np.ndarray | None
    measure_ms: float
    fps: float
    dropped: int
    z: float | None = None
    late: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: t, seq, score, measure, blurred, per, blur_extent, blur_seq,
        measure_ms, fps, dropped, z, late, and focus_map (list of rows) when a grid was asked."""
        blur = self.blur or {}
        out: dict[str, Any] = {
            "t": self.t,
            "seq": self.seq,
            "score": self.score,
            "measure": self.measure,
            "blurred": blur.get("is_blurred"),
            "per": blur.get("per"),
            "blur_extent": blur.get("blur_extent"),
            "blur_seq": self.blur_seq,
            "measure_ms": round(self.measure_ms, 4),
            "fps": round(self.fps, 3),
            "dropped": self.dropped,
            "z": self.z,
            "late": self.late,
        }
        if self.focus_map is not None:
            out["focus_map"] = self.focus_map.tolist()
        return out


def _check_grid(grid: object) -> tuple[int, int] | None:
    if grid is None:
        return None
    if (
        not isinstance(grid, tuple | list)
        or len(grid) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in grid)
    ):
        raise InputError(f"grid {grid!r} must be (rows, cols), two integers >= 1, e.g. (3, 3)")
    return int(grid[0]), int(grid[1])


def _check_roi(roi: object) -> ROI | None:
    if roi is not None and not isinstance(roi, ROI):
        if not isinstance(roi, tuple | list) or len(roi) != 4:
            raise InputError(f"roi {roi!r} must be (x, y, w, h) in pixels")
        roi = ROI(*roi)
    return roi


def _check_blur_rate(blur_rate: object) -> float:
    if (
        isinstance(blur_rate, bool)
        or not isinstance(blur_rate, int | float)
        or not math.isfinite(blur_rate)
        or blur_rate <= 0
    ):
        raise InputError(f"blur_rate {blur_rate!r} must be a number of verdicts per second > 0")
    return float(blur_rate)


def _check_queue_size(queue_size: object) -> int:
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 0:
        raise InputError(
            f"queue_size {queue_size!r} must be an integer >= 1 (or 0: no queue, callbacks only)"
        )
    return queue_size


class _FrameScorer:
    """What the scoring worker computes for one frame: its :class:`MonitorSample`.

    The focus measure and, when a grid is asked, the focus map; the blur verdict as the blur
    mode says (computed here, or the frame handed to the blur worker); the time it took and the
    frame rate so far.

    Parameters
    ----------
    source : FrameSource
        The monitor's source (each sample carries its count of dropped frames).
    blur_mode : {"async", "sync", "off"}
        How the blur verdict is computed (see the module docstring).
    blur : BlurVerdicts
        The monitor's blur verdicts: the latest one goes into each sample.
    """

    def __init__(self, source: FrameSource, blur_mode: str, blur: BlurVerdicts) -> None:
        self.source = source
        self.blur_mode = blur_mode
        self._blur = blur
        self._rate = FrameRate()

    def score(
        self,
        frame: Frame,
        name: str,
        roi: ROI | None,
        grid: tuple[int, int] | None,
        bin: int | str,
        final: bool,
    ) -> MonitorSample:
        """Score ``frame`` with measure ``name`` on ``roi`` (and ``grid``) at ``bin``.

        ``final``: the last frame of a frames limit, which gets its own verdict at once with
        ``blur="async"`` (nothing comes after it).
        """
        from .measures import focus_map, measure

        t_begin = time.monotonic()
        score = measure(frame.pixels, name, roi, bin)
        fmap = None
        if grid is not None:
            fmap = focus_map(frame.pixels, name, grid, roi, bin)
        if self.blur_mode == "sync" or (self.blur_mode == "async" and final):
            self._blur.judge(frame, roi)
        elif self.blur_mode == "async":
            self._blur.offer(frame)
        measure_ms = (time.monotonic() - t_begin) * 1000.0
        fps = self._rate.tick(frame.t)
        latest = self._blur.latest
        return MonitorSample(
            t=frame.t,
            seq=frame.seq,
            score=float(score),
            measure=name,
            blur=None if latest is None else latest[1],
            blur_seq=None if latest is None else latest[0],
            focus_map=fmap,
            measure_ms=measure_ms,
            fps=fps,
            dropped=self.source.dropped,
            z=frame.z,
        )


class Monitor:
    """Score every frame of a source on a worker thread and report :class:`MonitorSample` s.

    Parameters
    ----------
    source : FrameSource
        Where frames come from.
    measure : str
        Focus measure name (see :data:`focuscam.measures.MEASURES`), default ``"lapv"``.
    roi : ROI or (x, y, w, h), optional
        Region scored, in pixels; None = the whole frame.
    grid : (rows, cols), optional
        Also compute a focus map of the ROI on this grid.
    bin : int or "auto"
        Binning passed to the measure.
    blur : {"async", "sync", "off"}
        How the blur verdict is computed (see the module docstring).
    blur_rate : float
        With ``blur="async"``: at most this many verdicts per second (> 0).
    frames : int, optional
        Stop after this many scored frames.
    seconds : float, optional
        Stop after this many seconds (monotonic clock) counted from the first frame's capture
        time: a frame captured later is not scored.
    queue_size : int
        Capacity of the :meth:`samples` queue (>= 1); when full, the oldest sample is dropped.
        0: no queue (nothing is kept for :meth:`samples`; the subscribed callbacks get every sample).
    close_source : bool
        Close the source in :meth:`stop` (this also unblocks a worker waiting for a frame), and
        as soon as the scoring worker ends, however it ended (a limit, the stream's end, an
        error): a camera is released at once, and a hub's driver hands its pumping on.

    Notes
    -----
    The attributes ``measure``, ``roi`` and ``grid`` may be reassigned while the monitor runs
    (the live window does); each frame uses the values read when its scoring began.

    Examples
    --------
    >>> with Monitor(open_source("replay:stack"), grid=(3, 3)) as mon:  # doctest: +SKIP
    ...     for sample in mon.samples():
    ...         print(sample.seq, sample.score)
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        measure: str = "lapv",
        roi: ROI | tuple[int, int, int, int] | None = None,
        grid: tuple[int, int] | None = None,
        bin: int | str = 1,
        blur: str = "async",
        blur_rate: float = 5.0,
        frames: int | None = None,
        seconds: float | None = None,
        queue_size: int = 64,
        close_source: bool = True,
    ) -> None:
        from .measures import MEASURES

        if not isinstance(source, FrameSource):
            raise InputError(f"source {source!r} must be a FrameSource (see focuscam.sources.open_source)")
        if measure not in MEASURES:
            raise InputError(f"measure {measure!r} is unknown: use one of {', '.join(MEASURES)}")
        roi = _check_roi(roi)
        if blur not in BLUR_MODES:
            raise InputError(f"blur {blur!r} is unknown: use one of {', '.join(BLUR_MODES)}")
        blur_rate = _check_blur_rate(blur_rate)
        frames, seconds = check_limits(frames, seconds)
        queue_size = _check_queue_size(queue_size)
        self.source = source
        self.measure = measure
        self.roi = roi
        self.grid = _check_grid(grid)
        self.bin = bin
        self.blur_mode = blur
        self.blur_rate = blur_rate
        self.max_frames = frames
        self.max_seconds = seconds
        self.close_source = bool(close_source)
        self._outlet = SampleOutlet(queue_size)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._error_lock = threading.Lock()
        self._worker: Worker | None = None
        self._blur_thread: Worker | None = None
        self._blur = BlurVerdicts(self._stop)
        self._scorer = _FrameScorer(source, blur, self._blur)
        self.count = 0
        self.reason: str | None = None

    # ------------------------------------------------------------------ control
    def subscribe(self, callback: Callable[[MonitorSample], None]) -> None:
        """Call ``callback(sample)`` for every sample, on the scoring worker (keep it short).

        An exception raised by the callback stops the monitor and is raised again by :meth:`wait`.
        """
        if not callable(callback):
            raise InputError(f"callback {callback!r} is not callable")
        if self._worker is not None:
            raise InputError("subscribe callbacks before start()")
        self._outlet.callbacks.append(callback)

    def start(self) -> Monitor:
        """Start the scoring worker (and the blur worker with ``blur="async"``)."""
        if self._worker is not None:
            raise InputError("this Monitor was already started: create a new one")
        self._worker = Worker(self._guard, "focuscam-score", args=(self._score_loop,))
        if self.blur_mode == "async":
            self._blur.pace(self.blur_rate, self.source.fps)
            blur_loop = partial(self._blur.loop, self.blur_rate, lambda: self.roi)
            self._blur_thread = Worker(self._guard, "focuscam-blur", args=(blur_loop,))
            self._blur_thread.start()
        self._worker.start()
        return self

    @property
    def running(self) -> bool:
        """True while the scoring worker runs."""
        return self._worker is not None and self._worker.running

    @property
    def threads(self) -> list[Worker]:
        """The monitor's own threads (the scoring worker and, if any, the blur worker)."""
        return [t for t in (self._worker, self._blur_thread) if t is not None]

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the monitor, if any."""
        return self._error

    @property
    def verdicts(self) -> int:
        """Scored frames whose own verdict reached a sample (``blur_seq == seq``, late ones too)."""
        return self._outlet.verdicts

    @property
    def samples_dropped(self) -> int:
        """Samples dropped from the full :meth:`samples` queue (the oldest first)."""
        return self._outlet.dropped

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the scoring worker to finish; True when it has.

        Raises
        ------
        Exception
            The error that stopped the monitor (after every thread was stopped and joined).
        """
        if self._worker is None:
            raise InputError("the Monitor was not started: call start() first")
        if not self._worker.wait(timeout):
            return False
        self.stop()
        if self._error is not None:
            raise self._error
        return True

    def stop(self) -> None:
        """Stop and join every thread of the monitor (and close the source if it owns it)."""
        self._stop.set()
        self._blur.wake()
        if self.close_source:
            self.source.close()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.wait()

    def __enter__(self) -> Monitor:
        if self._worker is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()

    def samples(self, timeout: float | None = None) -> Iterator[MonitorSample]:
        """Yield samples from the bounded queue until the monitor ends; then raise its error, if any.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for each sample; None = no limit. A SourceError when it passes.
        """
        yield from self._outlet.samples(timeout)
        self.wait()

    # ------------------------------------------------------------------ workers
    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:
            with self._error_lock:
                if self._error is None and not (self._stop.is_set() and isinstance(exc, SourceError)):
                    self._error = exc
            self._stop.set()
            self._blur.wake()
        finally:
            if threading.current_thread() is self._worker:
                self._stop.set()
                self._blur.wake()
                self._outlet.end()
                if self.close_source:  # the run is over, however it ended: release the source
                    self.source.close()

    def _score_loop(self) -> None:
        last = self._score_frames()
        if last is None or self.blur_mode != "async" or self._stop.is_set():
            return
        frame, sample = last
        if sample.blur_seq != sample.seq:  # the stream is over: the last verdict, now
            verdict = blur_verdict(frame, self.roi)
            self._outlet.emit(replace(sample, blur=verdict, blur_seq=sample.seq, late=True))

    def _score_frames(self) -> tuple[Frame, MonitorSample] | None:
        """Score frames until the stream ends or a limit; return the last (frame, sample)."""
        limits = RunLimits(self.source, self.max_frames, self.max_seconds, self._stop)
        last = None
        while not self._stop.is_set():
            frame = limits.next(self.count)
            if frame is None:
                self.reason = limits.reason
                return None if self.reason == "stopped" else last
            # one read of the settings per frame: a UI may change them between frames
            name, roi, grid = self.measure, self.roi, self.grid
            # the last frame of a frames limit gets its own verdict at once: nothing comes after it
            final = limits.last(self.count)
            sample = self._scorer.score(frame, name, roi, grid, self.bin, final)
            self.count += 1
            self._outlet.emit(sample)
            last = (frame, sample)
        return None
