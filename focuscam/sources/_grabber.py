"""The grab thread of a :class:`~focuscam.sources.CameraSource` and its bounded frame buffer.

:class:`FrameGrabber` reads frames from a :class:`~focuscam.sources._capture.Capture` on a
background thread, stamps them with their capture time, keeps the newest ``buffer`` of them
(dropping or waiting when the consumer is slower), reopens a live device that stops
delivering, and hands frames to the consumer in :meth:`FrameGrabber.read`.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from .._threads import Worker
from ..errors import SourceError
from ..types import Frame
from ._capture import Capture
from .base import StreamEnded

__all__ = ["FrameGrabber"]


class FrameGrabber:
    """Frames grabbed from a capture on a background thread, into a bounded buffer.

    Parameters
    ----------
    capture : Capture
        The open capture to grab from (and to reopen after a fault).
    name : str
        The source's name (e.g. ``"camera 0"``), in the thread's name and in error messages.
    kind : {"camera", "url", "file"}
        What the source reads, for the advice of its error messages.
    buffer : int
        How many of the newest frames to keep (>= 1).
    drop : bool
        True: when the buffer is full, discard its oldest frame (counted in :attr:`dropped`).
        False: the grab thread waits for the consumer.
    live : bool
        Treat a failed grab as a fault to recover from (reopen) rather than the end of the stream.
    reconnect : int
        Reopen attempts after a live device stops delivering frames, before giving up.
    backoff : float
        Seconds before the first reopen attempt; doubled for each further attempt.
    asked : dict
        The properties asked at open (name -> value), set again on a reopened capture.

    Attributes
    ----------
    frames : int
        Frames captured so far (delivered, buffered or dropped).
    dropped : int
        Frames discarded because the buffer was full.
    reconnects : int
        Successful reopens of the device.
    shape : tuple or None
        Shape of the first frame's array; every later frame must have it.
    closed : bool
        True after :meth:`stop`.
    """

    def __init__(
        self,
        capture: Capture,
        name: str,
        kind: str,
        *,
        buffer: int,
        drop: bool,
        live: bool,
        reconnect: int,
        backoff: float,
        asked: dict[str, float],
    ) -> None:
        self._capture = capture
        self.name = name
        self.kind = kind
        self._buffer_len = buffer
        self._drop = drop
        self._live = live
        self._reconnect_max = reconnect
        self._backoff = backoff
        self._asked = asked
        self._pace: float | None = None
        self._thread: Worker | None = None
        self._cond = threading.Condition()
        self._buf: deque[Frame] = deque()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._done = False
        self.frames = 0
        self.dropped = 0
        self.reconnects = 0
        self.shape: tuple[int, ...] | None = None
        self.closed = False

    @property
    def running(self) -> bool:
        """True while the grab thread runs."""
        return self._thread is not None and self._thread.running

    def start(self, pace: float | None = None) -> None:
        """Start the grab thread; ``pace``: frames per second to pace a file at (None: flat out)."""
        self._pace = pace
        self._thread = Worker(self._run, f"focuscam-grab {self.name}")
        self._thread.start()

    # ------------------------------------------------------------------ grab thread
    def _run(self) -> None:
        try:
            self._grab_loop()
        except SourceError as exc:
            self._error = exc
        except Exception as exc:
            err = SourceError(f"{self.name}: the grab thread failed: {type(exc).__name__}: {exc}")
            err.__cause__ = exc
            self._error = err
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _grab_loop(self) -> None:
        failures = 0
        t0 = time.monotonic()
        while not self._stop.is_set():
            if self._pace is not None:
                wait = t0 + self.frames / self._pace - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return
            t_start = time.monotonic()
            grabbed = self._capture.grab()
            if grabbed is None:
                if not self._live:
                    raise StreamEnded(f"{self.name} ended after {self.frames} frames", self.frames)
                failures += 1
                self._recover(failures)
                continue
            failures = 0
            img, t, pos = grabbed
            if self.shape is None:
                self.shape = img.shape
            elif img.shape != self.shape:
                raise SourceError(
                    f"{self.name} sent frame {self.frames} of shape {img.shape} after frames of shape "
                    f"{self.shape}: the camera changed its size mid-stream; fix its resolution and restart"
                )
            frame = Frame(img, t, self.frames, meta={"t_start": t_start, "pos_msec": pos})
            self.frames += 1
            self._push(frame)

    def _check_hint(self) -> str:
        """What to check when the device stops, fitting its kind (a stream has no cable)."""
        if self.kind == "url":
            return "check that the stream's server still runs and the network reaches it"
        if self.kind == "file":
            return "check that the file is complete and readable"
        return "check the cable and that no other program uses it"

    def _recover(self, failures: int) -> None:
        """Reopen the device after a failed grab; SourceError once the attempts are used up."""
        if failures > self._reconnect_max:
            waited = sum(self._backoff * 2**k for k in range(self._reconnect_max))
            raise SourceError(
                f"{self.name} stopped delivering frames after {self.frames} frames and did not come back "
                f"after {self._reconnect_max} reconnect attempts over {waited:.1f} s: {self._check_hint()}, "
                "then start again"
            )
        if self._stop.wait(self._backoff * 2 ** (failures - 1)):
            return
        if self._capture.reopen(self._asked):
            self.reconnects += 1

    def _push(self, frame: Frame) -> None:
        with self._cond:
            if self._drop:
                if len(self._buf) >= self._buffer_len:
                    self._buf.popleft()
                    self.dropped += 1
            else:
                while len(self._buf) >= self._buffer_len and not self._stop.is_set():
                    self._cond.wait(0.1)
            self._buf.append(frame)
            self._cond.notify_all()

    # ------------------------------------------------------------------ consumer side
    def read(self, timeout: float | None) -> Frame:
        """Return the oldest buffered frame, waiting up to ``timeout`` seconds (None: no limit).

        Raises
        ------
        StreamEnded
            The video file ended (after every buffered frame was returned).
        SourceError
            No frame within the timeout, the grab thread failed, or :meth:`stop` was called.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._buf:
                if self.closed:
                    raise SourceError(f"{self.name} is closed: open a new source to read more frames")
                if self._done:
                    if self._error is not None:
                        raise self._error.with_traceback(None)
                    raise SourceError(f"{self.name} stopped: open a new source to read more frames")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    why = (
                        "its server, the network"
                        if self.kind == "url"
                        else "lighting, exposure, another program holding it"
                    )
                    raise SourceError(
                        f"no frame from {self.name} within {timeout:g} s: check that it is streaming "
                        f"({why}) or raise the timeout"
                    )
                self._cond.wait(remaining)
            frame = self._buf.popleft()
            self._cond.notify_all()
            return frame

    def stop(self) -> None:
        """Stop the grab thread and wait for it; a consumer waiting in :meth:`read` is woken."""
        self.closed = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.wait()

    def clear(self) -> None:
        """Discard the buffered frames."""
        with self._cond:
            self._buf.clear()
