"""The collaborators of :class:`~focuscam.monitor.Monitor`: its blur verdicts, its sample outlet
and its frame rate.

- :class:`BlurVerdicts`: the latest blur verdict and the newest frame waiting for one; its
  :meth:`~BlurVerdicts.loop` is the body of the ``focuscam-blur`` worker (``blur="async"``).
- :class:`SampleOutlet`: where samples go, the subscribed callbacks and the bounded queue read
  by :meth:`Monitor.samples <focuscam.monitor.Monitor.samples>`.
- :class:`FrameRate`: frames per second over the last frames' capture times.
- :class:`RunLimits`: the frames of one run, until a frames or seconds limit, the stream's end
  or a stop, and the reason it ended.

Threads are started by the monitor itself; nothing here starts one.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import InputError, SourceError
from .sources.base import FrameSource, StreamEnded
from .types import ROI, Frame

if TYPE_CHECKING:
    from .monitor import MonitorSample

__all__ = ["BlurVerdicts", "FrameRate", "RunLimits", "SampleOutlet", "blur_verdict"]

#: Capture times :class:`FrameRate` counts over by default.
FPS_WINDOW = 30


def blur_verdict(frame: Frame, roi: ROI | None) -> dict[str, Any]:
    """The blur verdict of a frame's ROI: :func:`~focuscam.measures.blur_report` as a dict."""
    from .measures import blur_report

    return blur_report(frame.pixels, roi).to_dict()


class BlurVerdicts:
    """A monitor's blur verdicts: the latest one, and the newest frame waiting for one.

    The scoring worker :meth:`offer` s each scored frame; the blur worker, running :meth:`loop`,
    judges the newest one offered and then rests, so that at most ``rate`` verdicts per second
    are computed. :meth:`judge` computes a verdict on the caller's thread instead.

    With a source of known frame rate (:meth:`pace`), only every ``k``-th frame of the source's
    sequence is offered (``seq % k == 0``, ``k = ceil(fps / rate)``; after dropped frames the
    first one past each multiple of ``k``): which frames are judged then depends on the frames
    alone, not on when the worker happened to wake, so replaying a recording judges the same
    frames every time (and every run costs the same: a verdict's cost depends on the frame).
    When the worker falls behind, it still takes the newest frame of that cadence. The rest
    after a verdict is then one frame interval shorter than ``1 / rate``, so that the next due
    frame is never missed; a camera faster than its nominal rate is still held near ``rate``.

    Parameters
    ----------
    stop : threading.Event
        The monitor's stop event: :meth:`loop` returns once it is set (and :meth:`wake` was called).

    Attributes
    ----------
    latest : (int, dict) or None
        The sequence number of the frame of the latest verdict and the verdict
        (``BlurReport.to_dict()``); None before the first.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._slot: Frame | None = None
        self._cond = threading.Condition()
        self.latest: tuple[int, dict[str, Any]] | None = None
        self._every = 1
        self._due = 0
        self._frame_s = 0.0

    def pace(self, rate: float, fps: float | None) -> None:
        """Offer every ``ceil(fps / rate)``-th frame of a source of nominal ``fps`` (call before
        the workers start); ``fps=None`` (unknown or unpaced): every frame, paced by time only."""
        if fps is not None and fps > 0:
            self._every = max(1, math.ceil(fps / rate - 1e-9))
            self._frame_s = 1.0 / fps

    def judge(self, frame: Frame, roi: ROI | None) -> None:
        """Compute the verdict of ``frame`` now, on this thread, and make it the latest."""
        self.latest = (frame.seq, blur_verdict(frame, roi))

    def offer(self, frame: Frame) -> None:
        """Hand the newest frame to the blur worker (replacing one it has not taken yet); a
        frame off the cadence set by :meth:`pace` is not offered."""
        if frame.seq < self._due:  # a frame the cadence skips; after dropped frames, the
            return  # first one past each due sequence number is offered
        self._due = (frame.seq // self._every + 1) * self._every
        with self._cond:
            self._slot = frame
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake the blur worker, so that it sees the stop event."""
        with self._cond:
            self._cond.notify_all()

    def loop(self, rate: float, roi: Callable[[], ROI | None]) -> None:
        """The blur worker: judge the newest offered frame, at most ``rate`` times per second.

        Parameters
        ----------
        rate : float
            Verdicts per second at the most (> 0).
        roi : callable
            Returns the ROI to judge, read for each verdict (a UI may change it).
        """
        # on a paced cadence the worker may look for the next frame one frame interval early
        # (the due frame then waits for it in the slot, whatever the jitter of the rest)
        period = 1.0 / rate - self._frame_s
        while True:
            with self._cond:
                while self._slot is None and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                frame, self._slot = self._slot, None
            t_begin = time.monotonic()
            self.latest = (frame.seq, blur_verdict(frame, roi()))
            rest = period - (time.monotonic() - t_begin)
            if rest > 0 and self._stop.wait(rest):
                return


class SampleOutlet:
    """Where a monitor's samples go: every subscribed callback, then a bounded queue.

    Parameters
    ----------
    queue_size : int
        Capacity of the queue (>= 1); when it is full, its oldest sample is dropped (counted in
        :attr:`dropped`). 0: no queue; only the callbacks get the samples.

    Attributes
    ----------
    callbacks : list of callable
        Called with every sample, in order, on the thread that calls :meth:`emit`.
    verdicts : int
        Samples emitted that carry their own frame's verdict (``blur_seq == seq``).
    dropped : int
        Samples dropped from the full queue.
    """

    def __init__(self, queue_size: int) -> None:
        self.callbacks: list[Callable[[MonitorSample], None]] = []
        self._queue: queue.Queue[MonitorSample | None] | None = (
            queue.Queue(maxsize=queue_size) if queue_size else None
        )
        self.verdicts = 0
        self.dropped = 0

    def emit(self, sample: MonitorSample) -> None:
        """Hand ``sample`` to every callback, then to the queue."""
        if sample.blur_seq == sample.seq:
            self.verdicts += 1
        for callback in self.callbacks:
            callback(sample)
        self._put(sample)

    def end(self) -> None:
        """Mark the end of the samples in the queue (:meth:`samples` returns there)."""
        self._put(None)

    def _put(self, item: MonitorSample | None) -> None:
        if self._queue is None:  # queue_size=0: the callbacks get every sample
            return
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def samples(self, timeout: float | None) -> Iterator[MonitorSample]:
        """Yield samples from the queue until its end; a SourceError when none comes within ``timeout``."""
        queue_ = self._queue
        if queue_ is None:
            raise InputError("this Monitor keeps no samples (queue_size=0): subscribe a callback instead")
        while True:
            try:
                item = queue_.get(timeout=timeout)
            except queue.Empty:
                raise SourceError(
                    f"no monitor sample within {timeout:g} s: is the source delivering?"
                ) from None
            if item is None:
                return
            yield item


class FrameRate:
    """Frames per second over the capture times of the last ``window`` frames.

    Parameters
    ----------
    window : int
        How many of the latest capture times are kept (>= 2).
    """

    def __init__(self, window: int = FPS_WINDOW) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, t: float) -> float:
        """Count a frame captured at ``t``; frames per second over the window (0.0 at first)."""
        self._times.append(t)
        if len(self._times) > 1 and self._times[-1] > self._times[0]:
            return (len(self._times) - 1) / (self._times[-1] - self._times[0])
        return 0.0


class RunLimits:
    """The frames of one monitor run: until a frames or seconds limit, the stream's end or a stop.

    The seconds limit counts from the first frame's capture time; a frame captured after it is
    not returned (not scored).

    Parameters
    ----------
    source : FrameSource
        Where frames come from.
    frames : int or None
        At most this many frames are scored (the caller counts them; see :meth:`next`).
    seconds : float or None
        The seconds limit (monotonic clock); None: no limit.
    stop : threading.Event
        The monitor's stop event: a SourceError once it is set ends the run as stopped.

    Attributes
    ----------
    reason : str or None
        Why :meth:`next` returned None: ``"frames"``, ``"seconds"``, ``"ended"`` or
        ``"stopped"``; None before.
    """

    def __init__(
        self, source: FrameSource, frames: int | None, seconds: float | None, stop: threading.Event
    ) -> None:
        self.source = source
        self.frames = frames
        self.seconds = seconds
        self._stop = stop
        self._deadline: float | None = None
        self.reason: str | None = None

    def last(self, count: int) -> bool:
        """True when the frame scored after ``count`` others is the last of the frames limit."""
        return self.frames is not None and count + 1 >= self.frames

    def next(self, count: int) -> Frame | None:
        """The next frame to score after ``count`` scored ones, or None when the run is over.

        Raises
        ------
        SourceError
            The source failed (and the run was neither stopped nor past its seconds limit).
        """
        if self.frames is not None and count >= self.frames:
            self.reason = "frames"
            return None
        deadline = self._deadline
        timeout = self.source.default_timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.reason = "seconds"
                return None
            timeout = left if timeout is None else min(timeout, left)
        try:
            frame = self.source.read(timeout=timeout)
        except StreamEnded:
            self.reason = "ended"
            return None
        except SourceError:
            if self._stop.is_set():
                self.reason = "stopped"
                return None
            if deadline is not None and time.monotonic() >= deadline:
                self.reason = "seconds"
                return None
            raise
        if deadline is not None and frame.t >= deadline:
            self.reason = "seconds"  # captured after the limit: not scored
            return None
        if deadline is None and self.seconds is not None:
            self._deadline = frame.t + self.seconds  # counted from the first frame's capture
        return frame
