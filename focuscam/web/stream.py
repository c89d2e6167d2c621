"""The live streams of the server: MJPEG frames and the events (server-sent events).

Both are fed from engine threads and read by asyncio tasks of the server: a thread calls
:meth:`EventBus.publish` or :meth:`JpegStream.offer`, and a waiting response is woken through the loop's
:class:`~focuscam.web.wake.LoopWaker` (or by its stream's batch timer), so the server's event
loop is never blocked, and wakes once for everything that became due together.

- :class:`EventBus`: every sample and state change, to every ``/api/events`` client
  (``text/event-stream``: ``event: KIND`` + ``data: JSON``). A slow client loses its oldest
  events (counted), never slows the engine. Per-frame events (samples) are sent in batches
  (one write about every :data:`BATCH_S` seconds, with a frame of the live view when one is
  watched, each still an event of its own); state changes at once.
- :class:`JpegStream`: the source's own JPEG bytes of a frame when it has them (a replayed JPEG
  file), sent on as they are; else one encoder thread turns the newest frame into a JPEG at most
  once per captured frame and view width, only while somebody watches, whatever the number of
  watchers (a page asks for the width it shows the frame at; frames are scaled down to it); each part of
  ``/stream.mjpg`` carries the frame's capture time (``X-Capture-T``, ``time.monotonic()`` s,
  which the latency benchmark compares with the receipt time) and sequence number
  (``X-Frame-Seq``).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from .._threads import Worker
from ..types import Frame
from .wake import LoopWaker, waker

__all__ = [
    "BATCHED",
    "BATCH_S",
    "BOUNDARY",
    "EventBus",
    "JpegStream",
    "own_jpeg",
    "part",
    "passes",
    "sse",
    "view_width",
]

#: The multipart boundary of ``/stream.mjpg``.
BOUNDARY = "focuscamframe"
_QUEUE = 256


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sse(kind: str, data: Any) -> str:
    """One server-sent event."""
    try:  # the common case (plain Python values, finite floats): no copy of the data first
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):  # numpy values, NaN or infinity
        text = json.dumps(_clean(data), allow_nan=False)
    return f"event: {kind}\ndata: {text}\n\n"


#: Event kinds sent once per frame: coalesced into one write every :data:`BATCH_S` seconds.
BATCHED = frozenset({"sample", "recorded"})
#: Seconds a batched event waits at most for the next write of its stream (the page redraws its
#: score plot at most every 100 ms); every other event is written at once, after those before it.
BATCH_S = 0.08


class _Subscriber:
    """One ``/api/events`` client: its queue, filled from any thread and emptied on its loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, batch_s: float) -> None:
        self.loop = loop
        self.waker = waker(loop)
        self.batch_s = batch_s
        self.items: deque[str] = deque(maxlen=_QUEUE)
        self.lock = threading.Lock()
        self.ready = asyncio.Event()
        self.lost = 0
        self.quiet = True  # nothing was put since the last heartbeat
        self.flushed = loop.time()  # when the stream last took its queue
        self.timer: asyncio.TimerHandle | None = None
        self.ticker: asyncio.TimerHandle | None = None

    def offer(self, text: str, now: bool) -> None:  # on any thread
        """Queue an event; wake the loop for it ``now``, or let a later wake-up or tick send it."""
        with self.lock:
            if len(self.items) == self.items.maxlen:
                self.lost += 1
            self.items.append(text)
            self.quiet = False
        if now:
            self.waker.set(self.ready)

    def take(self) -> str:  # on the event loop
        """Every queued event, as one text (empty when none)."""
        self.flushed = self.loop.time()
        with self.lock:
            text = "".join(self.items)
            self.items.clear()
        return text

    def due(self) -> None:  # on the event loop, at each of its waker's wake-ups
        """Send the queue when its batch is due, on a wake-up that came anyway (a live-view frame);
        the tick is put off by ``batch_s``, so that it only fires when no such wake-up comes."""
        now = self.loop.time()
        if self.items and now - self.flushed >= self.batch_s:
            self.ready.set()
        if self.ticker is not None:
            self.ticker.cancel()
        self.ticker = self.loop.call_at(now + self.batch_s, self.tick)

    def tick(self) -> None:  # on the event loop, ``batch_s`` after the last wake-up or tick
        if self.items:
            self.ready.set()
        self.ticker = self.loop.call_later(self.batch_s, self.tick)

    def beat(self, every_s: float) -> None:  # on the event loop, every ``every_s`` seconds
        if self.quiet:
            with self.lock:
                self.items.append(": keep-alive\n\n")
            self.ready.set()
        self.quiet = True
        self.timer = self.loop.call_later(every_s, self.beat, every_s)


class EventBus:
    """Events from engine threads to every ``/api/events`` client (see the module docstring).

    Each event is serialised once, whatever the number of clients, and only when there is one.
    A per-frame event (:data:`BATCHED`: ``sample``, ``recorded``) is only queued: a timer of each
    stream sends what was queued every ``batch_s`` seconds in one write, so the event loop wakes
    a few times a second instead of once per frame; any other event (a state change, a result,
    a problem) wakes the stream at once and is sent with everything queued before it, in order.
    A client's keep-alive comes from one timer that fires every ``heartbeat_s``. Wake-ups of the
    loop are shared (:mod:`focuscam.web.wake`): a batch that is due goes out with the next frame
    of the live view when one comes within ``batch_s``; the stream's own timer fires only when none
    does.
    """

    def __init__(self, batch_s: float = BATCH_S) -> None:
        self._subs: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self.batch_s = float(batch_s)
        self.closed = False

    def publish(self, kind: str, data: Any) -> None:
        """Send an event to every subscriber; from any thread, never blocks."""
        with self._lock:
            subs = list(self._subs)
        if not subs:
            return
        text = sse(kind, data)
        now = kind not in BATCHED
        for sub in subs:
            try:
                sub.offer(text, now)
            except RuntimeError:  # its loop has closed
                pass

    def close(self) -> None:
        """End every stream (the server is shutting down); from any thread."""
        self.closed = True
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.waker.set(sub.ready)
            except RuntimeError:  # its loop has closed
                pass

    async def stream(self, first: str = "", heartbeat_s: float = 15.0) -> AsyncIterator[str]:
        """The text of one client's event stream, starting with ``first``; ends on :meth:`close`."""
        sub = _Subscriber(asyncio.get_running_loop(), self.batch_s)
        with self._lock:
            self._subs.add(sub)
        sub.timer = sub.loop.call_later(heartbeat_s, sub.beat, heartbeat_s)
        sub.ticker = sub.loop.call_later(self.batch_s, sub.tick)
        sub.waker.hooks.append(sub.due)
        try:
            if first:
                yield first
            while not self.closed:
                await sub.ready.wait()
                sub.ready.clear()
                text = sub.take()
                if text:
                    yield text
        finally:
            with self._lock:
                self._subs.discard(sub)
            sub.waker.hooks.remove(sub.due)
            for handle in (sub.timer, sub.ticker):
                if handle is not None:
                    handle.cancel()


def view_width(width: int | None) -> int | None:
    """A watcher's asked width (display pixels), rounded up to a multiple of 64; None = full size."""
    if width is None:
        return None
    return min(8192, max(64, -(-int(width) // 64) * 64))


def own_jpeg(frame: Frame) -> bytes | None:
    """The source's own JPEG bytes of ``frame`` (``meta["jpeg"]``: a replayed JPEG file), or None."""
    jpeg = frame.meta.get("jpeg")
    return jpeg if isinstance(jpeg, bytes) else None


def part(frame: Frame, jpeg: bytes) -> bytes:
    """One part of ``/stream.mjpg``: the boundary, the headers (with the frame's sequence number and
    capture time) and the JPEG; made once per frame and width, whatever the number of watchers."""
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
        f"X-Frame-Seq: {frame.seq}\r\nX-Capture-T: {frame.t:.6f}\r\n\r\n"
    )
    return b"".join((head.encode("ascii"), jpeg, b"\r\n"))


def passes(frame_width: int, width: int | None) -> bool:
    """Whether a frame ``frame_width`` pixels wide is sent on as it is to a view ``width`` wide: at
    full size, or when the frame is at most twice as wide (the browser scales it down; a resize and
    a new encoding would cost far more CPU than the extra bytes)."""
    return width is None or frame_width <= 2 * width


class JpegStream:
    """The MJPEG live view: the newest frame as JPEG, at most once per captured frame and size.

    When the source delivered the frame's own JPEG bytes (``meta["jpeg"]``, see :func:`own_jpeg`),
    they are sent on as they are, from :meth:`offer` (the pump's thread): nothing is encoded.
    Otherwise one encoder thread turns the newest frame into a JPEG, only while somebody
    watches. A watcher may ask for a width (the page asks for the width it shows the
    frame at): a frame to encode is then scaled down to it (never up) before encoding, and an own
    JPEG more than twice as wide is too (:func:`passes`). Widths are rounded up to multiples of 64
    so that pages of similar sizes share one encoding.

    Parameters
    ----------
    quality : int
        JPEG quality (1..100).
    watching : callable, optional
        ``watching(True)`` when the first watcher comes, ``watching(False)`` when the last one
        leaves (the server asks a replay for its files' bytes only while somebody watches).
    """

    def __init__(self, quality: int = 80, watching: Callable[[bool], Any] | None = None) -> None:
        self.quality = int(quality)
        self._watching = watching
        #: width (None = full size) -> (seq, the multipart part) of the newest frame
        self.latest: dict[int | None, tuple[int, bytes]] = {}
        #: parts encoded here, and parts sent on as the source's own JPEG bytes
        self.encoded = 0
        self.passed = 0
        self._newest: Frame | None = None
        self._todo: Frame | None = None
        self._cond = threading.Condition()
        self._waiters: set[tuple[LoopWaker, asyncio.Event]] = set()
        self._widths: dict[int | None, int] = {}
        self._stop = False
        self._worker = Worker(self._loop, "focuscam-jpeg")
        self._worker.start()

    def offer(self, frame: Frame) -> None:
        """A new frame was captured (the hub's listener; returns at once)."""
        with self._cond:
            self._newest = frame
            if self._widths:
                self._route(frame)

    def _route(self, frame: Frame) -> None:
        """Send on the own JPEG to every width it passes for; the encoder does the rest (locked)."""
        own, w = own_jpeg(frame), frame.pixels.shape[1]
        todo = sent = False
        for width in self._widths:
            if own is not None and passes(w, width):
                self.latest[width] = (frame.seq, part(frame, own))
                self.passed += 1
                sent = True
            else:
                todo = True
        if todo:
            self._todo = frame
            self._cond.notify_all()
        if sent:
            self._wake()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._todo is None:
                    self._cond.wait()
                if self._stop:
                    return
                frame, self._todo = self._todo, None
                own, w = own_jpeg(frame), frame.pixels.shape[1]
                widths = [width for width in self._widths if own is None or not passes(w, width)]
            self._encode(frame, widths)

    def _encode(self, frame: Frame, widths: list[int | None]) -> None:
        import cv2

        from ..ui.render import to_display

        pixels = frame.pixels
        if pixels.dtype != np.uint8 or (pixels.ndim == 3 and pixels.shape[2] != 3):
            pixels = to_display(pixels)
        h, w = pixels.shape[:2]
        for width in widths:
            image = pixels
            if width is not None and width < w:
                image = cv2.resize(
                    pixels, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA
                )
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                self.latest[width] = (frame.seq, part(frame, buf.tobytes()))
                self.encoded += 1
        self._wake()

    def _wake(self) -> None:
        with self._cond:
            waiters = list(self._waiters)
        for wake, event in waiters:
            try:
                wake.set(event)
            except RuntimeError:  # its loop has closed
                pass

    def end(self) -> None:
        """End every stream and the encoder (returns at once; safe in a signal handler's call)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._wake()

    def close(self) -> None:
        """Stop the encoder and end every stream; waits for the encoder thread."""
        self.end()
        self._worker.wait(5.0)

    async def parts(self, width: int | None = None) -> AsyncIterator[bytes]:
        """The multipart body of ``/stream.mjpg`` for one watcher; ends on :meth:`close`.

        ``width``: the display width in pixels (see :func:`view_width`); None = full size.
        """
        width = view_width(width)
        event = asyncio.Event()
        key = (waker(asyncio.get_running_loop()), event)
        with self._cond:
            first = not self._widths
            self._waiters.add(key)
            self._widths[width] = self._widths.get(width, 0) + 1
            if self._newest is not None:  # the newest frame at once, for this width too
                self._route(self._newest)
        if first and self._watching is not None:
            self._watching(True)
        sent = -1
        try:
            latest = self.latest.get(width)
            while not self._stop:
                if latest is not None and latest[0] != sent:
                    sent = latest[0]
                    yield latest[1]
                await event.wait()
                event.clear()
                latest = self.latest.get(width)
        finally:
            with self._cond:
                self._waiters.discard(key)
                self._widths[width] -= 1
                if not self._widths[width]:
                    del self._widths[width]
                    self.latest.pop(width, None)
                last = not self._widths
            if last and self._watching is not None:
                self._watching(False)
