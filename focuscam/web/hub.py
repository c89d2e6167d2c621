"""One frame source, several readers: the server's live view, its monitor and its autofocus.

A camera (or the twin) is read by ONE pump; every frame it captures goes to each
:class:`HubTap` (a :class:`~focuscam.sources.base.FrameSource` of its own, with a small newest-frames
buffer like a camera's) and becomes :attr:`FrameHub.latest` for the MJPEG stream. So the monitor
scores every frame for the live score, the autofocus asks its tap for fresh frames after each
move, and the browser sees the same frames, without any of them stealing frames from the others.

The pump is the hub's own thread, or the thread of its *driver* (:meth:`FrameHub.driver`): a
reader that reads every frame anyway (the server's monitor) reads the source itself and hands
each frame on to the others before it gets it, which saves a thread hand-off per frame. When the
driver's reader stops (its tap is closed, or a read failed), the hub's own thread pumps on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .._threads import Worker
from ..errors import InputError, SourceError
from ..sources.base import FrameSource, StreamEnded, check_timeout
from ..types import Frame

__all__ = ["FrameHub", "HubTap"]

#: Source errors in a row (1 s read timeouts) after which the pump gives up.
_MAX_FAILURES = 5


class HubTap(FrameSource):
    """A reader of a :class:`FrameHub`: the frames the hub pumped since it was opened.

    Parameters
    ----------
    hub : FrameHub
        Where the frames come from.
    buffer : int
        Frames kept while nobody reads (the oldest are dropped and counted, like a camera's queue).
    """

    def __init__(self, hub: FrameHub, buffer: int = 2) -> None:
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise InputError(f"buffer {buffer!r} must be an integer >= 1 (frames)")
        self.hub = hub
        self.name = hub.source.name
        self.default_timeout = 5.0
        self._frames: deque[Frame] = deque(maxlen=buffer)
        self._cond = threading.Condition()
        self._dropped = 0
        self._closed = False

    def _push(self, frame: Frame) -> None:
        with self._cond:
            if len(self._frames) == self._frames.maxlen:
                self._dropped += 1
            self._frames.append(frame)
            self._cond.notify_all()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> Frame:
        timeout = check_timeout(timeout)
        if timeout is None:
            timeout = self.default_timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._frames:
                if self._closed:
                    raise SourceError(f"the reader of {self.name} is closed")
                if self.hub.ended:
                    raise StreamEnded(f"{self.name} ended", self.hub.count)
                if self.hub.error is not None:
                    raise SourceError(f"{self.name} failed: {self.hub.error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(
                        f"no frame from {self.name} within {timeout:g} s: is the camera delivering?"
                    )
                self._cond.wait(left)
            return self._frames.popleft()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.hub._remove(self)

    @property
    def size(self) -> tuple[int, int] | None:
        return self.hub.source.size

    @property
    def fps(self) -> float | None:
        return self.hub.source.fps

    @property
    def dropped(self) -> int:
        return self._dropped + self.hub.source.dropped


class _DriverTap(HubTap):
    """The hub's driver (:meth:`FrameHub.driver`): its :meth:`read` reads the source itself and
    hands the frame to every other tap and listener before returning it."""

    def read(self, timeout: float | None = None) -> Frame:
        timeout = check_timeout(timeout)
        if timeout is None:
            timeout = self.default_timeout
        if self._closed:
            raise SourceError(f"the reader of {self.name} is closed")
        return self.hub._drive(self, timeout)

    @property
    def dropped(self) -> int:
        return self.hub.source.dropped


class FrameHub:
    """Read a source on one pump (its thread, or its driver's) and hand every frame to its taps and listeners.

    Parameters
    ----------
    source : FrameSource
        The camera, video, replay or twin; closed by :meth:`close`.
    """

    def __init__(self, source: FrameSource) -> None:
        if not isinstance(source, FrameSource):
            raise InputError(f"source {source!r} must be a FrameSource (see focuscam.sources.open_source)")
        self.source = source
        self.latest: Frame | None = None
        self.count = 0
        self.ended = False
        self.error: BaseException | None = None
        self._taps: list[HubTap] = []
        self._listeners: list[Callable[[Frame], Any]] = []
        self._consumers: list[Worker] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker: Worker | None = None
        self._started = False
        self._driver: _DriverTap | None = None
        self._reading = threading.Lock()  # one reader of the source at a time

    def tap(self, buffer: int = 2) -> HubTap:
        """A new reader that gets every frame pumped from now on."""
        tap = HubTap(self, buffer)
        with self._lock:
            self._taps.append(tap)
        return tap

    def driver(self) -> HubTap:
        """The reader that pumps: its ``read()`` reads the source on the caller's thread.

        For a reader that reads every frame as it comes (the server's monitor): the frame goes
        to every other tap and listener first, then to it, with no thread of the hub in between.
        One per hub, asked for before :meth:`start`. Once it is closed, or a read of it failed,
        the hub's own pump thread reads on for the others.
        """
        with self._lock:
            if self._driver is not None or self._started:
                raise InputError("a FrameHub has one driver, asked for before start()")
            self._driver = _DriverTap(self, buffer=1)
        return self._driver

    def listen(self, callback: Callable[[Frame], Any]) -> None:
        """Call ``callback(frame)`` on the pump thread for every frame (keep it short)."""
        with self._lock:
            self._listeners.append(callback)

    def consume(self, callback: Callable[[Frame], Any], name: str, buffer: int = 8) -> HubTap:
        """Call ``callback(frame)`` for every frame on a thread of its own (a slow consumer, such
        as a recording writing PNG files, never holds up the pump; frames it cannot keep up with
        are dropped from its tap and counted). The thread ends when the hub closes or ends, or
        when the returned tap is closed."""
        tap = self.tap(buffer)

        def body() -> None:
            while not self._stop.is_set():
                try:
                    frame = tap.read(timeout=1.0)
                except StreamEnded:
                    return
                except SourceError:
                    if self._stop.is_set() or self.ended or self.error is not None or tap.closed:
                        return
                    continue
                callback(frame)

        worker = Worker(body, name)
        self._consumers.append(worker)
        worker.start()
        return tap

    def _remove(self, tap: HubTap) -> None:
        with self._lock:
            if tap in self._taps:
                self._taps.remove(tap)
        if tap is self._driver:
            self._driver_gone()

    def start(self) -> FrameHub:
        """Start the pump: the hub's own thread, or (with a :meth:`driver`) the driver's reads."""
        with self._lock:
            if self._started:
                raise InputError("this FrameHub was already started")
            self._started = True
            driven = self._driver is not None and not self._driver.closed
        if not driven:
            self._pump_thread()
        return self

    def _pump_thread(self) -> None:
        with self._lock:
            if self._worker is not None or self._stop.is_set():
                return
            self._worker = Worker(self._pump, "focuscam-hub")
        self._worker.start()

    def _driver_gone(self) -> None:
        """The driver stopped reading: the hub's own thread pumps on (unless the stream is over)."""
        with self._lock:
            self._driver = None
            started = self._started
        if started and not (self.ended or self.error is not None):
            self._pump_thread()

    @property
    def running(self) -> bool:
        """True while the pump runs (the hub's thread, or its driver's reads)."""
        if self._worker is not None:
            return self._worker.running
        return self._started and self._driver is not None and not self._stop.is_set()

    def _deliver(self, frame: Frame) -> None:
        """``frame`` is the newest: to every tap (the driver is none of them) and every listener."""
        self.latest = frame
        self.count += 1
        with self._lock:
            taps, listeners = list(self._taps), list(self._listeners)
        for tap in taps:
            tap._push(frame)
        for listener in listeners:
            listener(frame)

    def _drive(self, tap: _DriverTap, timeout: float) -> Frame:
        """One read of the source for the driver ``tap``, the frame handed to the others first."""
        try:
            with self._reading:
                frame = self.source.read(timeout=timeout)
            self._deliver(frame)
            return frame
        except StreamEnded:
            self.ended = True
            self._wake_taps()
            raise
        except BaseException:
            tap.close()  # a failed read ends the driving: the hub's thread retries for the others
            raise

    def _pump(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    with self._reading:
                        frame = self.source.read(timeout=1.0)
                except StreamEnded:
                    self.ended = True
                    return
                except SourceError as exc:
                    if self._stop.is_set() or self.source.closed:
                        return
                    failures += 1
                    if failures < _MAX_FAILURES:  # a slow frame: keep waiting a little
                        continue
                    self.error = exc
                    return
                failures = 0
                self._deliver(frame)
        except BaseException as exc:  # kept for the readers; the thread must not die silently
            self.error = exc
        finally:
            self._wake_taps()

    def _wake_taps(self) -> None:
        with self._lock:
            taps = list(self._taps)
        for tap in taps:
            tap._wake()

    def close(self) -> None:
        """Stop the pump and close (release) the source; idempotent."""
        self._stop.set()
        self.source.close()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.wait(5.0)
        self._wake_taps()
        for worker in self._consumers:
            if worker is not threading.current_thread():
                worker.wait(5.0)
