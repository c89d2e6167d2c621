"""Live frames from ``cv2.VideoCapture``: a camera index, a device path, a URL or a video file.

One code path serves all four, so the tests exercise it on video files written with
``cv2.VideoWriter``. A background grab thread reads frames as they come and keeps only the
newest ``buffer`` of them (a bounded deque): when the consumer is slower, the oldest buffered
frame is discarded and counted in :attr:`CameraSource.dropped`, so stale frames never pile up.

Capture time
------------
OpenCV's backends do not give a timestamp on the ``time.monotonic()`` clock, so the grab
thread takes it itself: ``meta["t_start"]`` is ``time.monotonic()`` right before ``grab()``
is called and ``Frame.t`` right after ``grab()`` returns (before the slower ``retrieve()``
decodes it). The backend's own stream position ``CAP_PROP_POS_MSEC`` is kept in
``meta["pos_msec"]`` (the position in a file, or the driver's timestamp for some cameras).
:meth:`~focuscam.sources.base.FrameSource.fresh_frame` compares ``t_start``.

Video files
-----------
A file is decoded as fast as possible and, by default, nothing is dropped: the grab thread
waits while the buffer is full (``drop=False``), so every frame of the file reaches the
consumer. ``realtime=True`` paces the file at its frame rate and drops like a live camera.
When the file ends, :meth:`read` raises :class:`~focuscam.sources.base.StreamEnded`
("video FILE ended after N frames") and iteration stops.

Faults
------
A live device that stops delivering frames is reopened up to ``reconnect`` times, waiting
``backoff``, ``2*backoff``, ``4*backoff``, ... seconds; then :meth:`read` raises a
:class:`~focuscam.errors.SourceError` saying so. A frame whose size differs from the first
one stops the stream with a ``SourceError``. Frames captured before an error are still
returned by :meth:`read` first. :meth:`close` always stops the thread and releases the device.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections import deque
from pathlib import Path

from .._threads import Worker
from ..errors import InputError, SourceError
from ..types import Frame
from ._capture import open_capture, open_failed
from .base import FrameSource, SourceWarning, StreamEnded, check_timeout

__all__ = ["PROPERTIES", "CameraSource"]

#: Settable camera properties -> the name of their ``cv2.CAP_PROP_*`` constant.
PROPERTIES = {
    "width": "CAP_PROP_FRAME_WIDTH",
    "height": "CAP_PROP_FRAME_HEIGHT",
    "fps": "CAP_PROP_FPS",
    "exposure": "CAP_PROP_EXPOSURE",
    "gain": "CAP_PROP_GAIN",
    "autofocus": "CAP_PROP_AUTOFOCUS",
    "focus": "CAP_PROP_FOCUS",
}


def _check_int(value: object, param: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InputError(f"{param} {value!r} must be an integer >= {lo}")
    return value


def _check_seconds(value: object, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InputError(f"{param} {value!r} must be a number of seconds >= 0")
    return float(value)


class CameraSource(FrameSource):
    """Frames from a camera, a device path, a URL or a video file, grabbed on a background thread.

    Parameters
    ----------
    device : int or str
        Camera index (``0``), device path (``"/dev/video2"``), URL (``"rtsp://..."``) or the path
        of a video file.
    buffer : int
        How many of the newest frames to keep (>= 1).
    drop : bool, optional
        True: when the buffer is full, discard its oldest frame (live behaviour; counted in
        :attr:`dropped`). False: the grab thread waits for the consumer. Default: True for
        cameras, URLs and ``realtime`` files, False for files.
    realtime : bool
        Pace a video file at its frame rate (``CAP_PROP_FPS``) instead of decoding flat out.
    live : bool, optional
        Treat a failed grab as a fault to recover from (reconnect) rather than the end of the
        stream. Default: True for cameras and URLs, False for files.
    width, height : int, optional
        Frame size to ask the camera for, in pixels.
    fps : float, optional
        Frame rate to ask the camera for, in frames per second.
    exposure, gain : float, optional
        Exposure and gain in the driver's units (``CAP_PROP_EXPOSURE``, ``CAP_PROP_GAIN``).
    autofocus : bool, optional
        Switch the camera's own autofocus on or off (focuscam wants it off).
    focus : float, optional
        Lens position in the driver's units (``CAP_PROP_FOCUS``; UVC focus units).
    reconnect : int
        Reopen attempts after a live device stops delivering frames, before giving up (>= 0).
    backoff : float
        Seconds before the first reopen attempt; doubled for each further attempt.
    timeout : float, optional
        Default seconds :meth:`read` waits for a frame; None = no limit.
    api : int, optional
        A ``cv2.CAP_*`` backend; default: OpenCV chooses.

    Raises
    ------
    InputError
        A bad parameter, or a video file that does not exist.
    SourceError
        The camera, device, URL or file does not open.

    Warns
    -----
    SourceWarning
        A property the device did not take as asked (drivers clamp silently): the message
        gives the asked and the read-back value.
    """

    def __init__(
        self,
        device: int | str,
        *,
        buffer: int = 2,
        drop: bool | None = None,
        realtime: bool = False,
        live: bool | None = None,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        autofocus: bool | None = None,
        focus: float | None = None,
        reconnect: int = 3,
        backoff: float = 0.25,
        timeout: float | None = 5.0,
        api: int | None = None,
    ) -> None:
        self._closed = True  # until the device is open, close() has nothing to do
        self._thread: Worker | None = None
        if isinstance(device, bool) or not isinstance(device, int | str | Path):
            raise InputError(f"device {device!r} must be a camera index, a device path, a URL or a file")
        if isinstance(device, int) and device < 0:
            raise InputError(f"camera index {device} must be >= 0")
        if isinstance(device, Path):
            device = str(device)
        if isinstance(device, str) and not device:
            raise InputError("device '' is empty: give a camera index, a device path, a URL or a file")
        self.device = device
        if isinstance(device, int):
            self.kind, self.name = "camera", f"camera {device}"
        elif "://" in device:
            self.kind, self.name = "url", f"stream {device}"
        elif device.startswith("/dev/"):
            self.kind, self.name = "camera", f"camera {device}"
        else:
            self.kind, self.name = "file", f"video {device}"
            if not Path(device).is_file():
                raise InputError(f"video file {device} does not exist: check the path")
        self._buffer_len = _check_int(buffer, "buffer", 1)
        self.realtime = bool(realtime)
        self._drop = (self.kind != "file" or self.realtime) if drop is None else bool(drop)
        self._live = (self.kind != "file") if live is None else bool(live)
        self._reconnect_max = _check_int(reconnect, "reconnect", 0)
        self._backoff = _check_seconds(backoff, "backoff")
        self.default_timeout = check_timeout(timeout)
        self._api = api
        asked: dict[str, float] = {}
        for key, value in (
            ("width", width),
            ("height", height),
            ("fps", fps),
            ("exposure", exposure),
            ("gain", gain),
            ("autofocus", autofocus),
            ("focus", focus),
        ):
            if value is None:
                continue
            if isinstance(value, bool) and key != "autofocus":
                raise InputError(f"{key} {value!r} must be a number")
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"{key} {value!r} must be a finite number")
            asked[key] = float(value)
        self._asked = asked

        self._cap_lock = threading.Lock()
        self._cond = threading.Condition()
        self._buf: deque[Frame] = deque()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._done = False
        self._seq = 0
        self._dropped = 0
        self.reconnects = 0
        self._shape: tuple[int, ...] | None = None

        self._cap = open_capture(device, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise open_failed(self.kind, self.name, device)
        self._closed = False
        try:
            for key, value in asked.items():
                self.set_property(key, value)
        except BaseException:  # e.g. a warning turned into an error: release the device first
            self.close()
            raise
        self._nominal_fps = self._get("CAP_PROP_FPS") or None
        if self.realtime and not self._nominal_fps:
            self.close()
            raise InputError(f"{self.name} reports no frame rate, so realtime=True cannot pace it")
        self._thread = Worker(self._run, f"focuscam-grab {self.name}")
        self._thread.start()

    # ------------------------------------------------------------------ properties
    @property
    def size(self) -> tuple[int, int] | None:
        """Frame size ``(width, height)`` in pixels: of the first frame, else what the backend says."""
        if self._shape is not None:
            return self._shape[1], self._shape[0]
        if self._closed:
            return None
        w, h = int(self._get("CAP_PROP_FRAME_WIDTH")), int(self._get("CAP_PROP_FRAME_HEIGHT"))
        return (w, h) if w > 0 and h > 0 else None

    @property
    def fps(self) -> float | None:
        """The frame rate the backend reports (``CAP_PROP_FPS``), or None when it reports none."""
        return self._nominal_fps

    @property
    def dropped(self) -> int:
        """Frames discarded because the buffer was full (the consumer was slower than the camera)."""
        return self._dropped

    @property
    def frames(self) -> int:
        """Frames captured so far (delivered, buffered or dropped)."""
        return self._seq

    @property
    def alive(self) -> bool:
        """True while the grab thread runs."""
        return self._thread is not None and self._thread.running

    def _get(self, const: str) -> float:
        import cv2

        with self._cap_lock:
            return float(self._cap.get(getattr(cv2, const)))

    def get_property(self, name: str) -> float:
        """Read a camera property (one of :data:`PROPERTIES`) in the driver's units."""
        if name not in PROPERTIES:
            raise InputError(f"camera property {name!r} is unknown: use one of {', '.join(PROPERTIES)}")
        if self._closed:
            raise SourceError(f"{self.name} is closed: open a new source")
        return self._get(PROPERTIES[name])

    def set_property(self, name: str, value: float) -> float:
        """Set a camera property and return the value read back from the driver.

        A driver that refuses the value or clamps it silently is reported with a
        :class:`~focuscam.sources.base.SourceWarning` naming the asked and the read-back value.

        Parameters
        ----------
        name : str
            One of :data:`PROPERTIES`: width, height (pixels), fps (frames/s), exposure, gain,
            autofocus (0/1), focus (driver units).
        value : float
            The value to set.
        """
        import cv2

        if name not in PROPERTIES:
            raise InputError(f"camera property {name!r} is unknown: use one of {', '.join(PROPERTIES)}")
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"{name} {value!r} must be a finite number")
        if self._closed:
            raise SourceError(f"{self.name} is closed: open a new source")
        prop = getattr(cv2, PROPERTIES[name])
        with self._cap_lock:
            accepted = bool(self._cap.set(prop, float(value)))
            got = float(self._cap.get(prop))
        if not accepted or abs(got - value) > 1e-6 * max(1.0, abs(value)):
            how = "refused" if not accepted else "changed"
            warnings.warn(
                f"{self.name} {how} {name}={value:g}: it reads back {got:g}",
                SourceWarning,
                stacklevel=2,
            )
        return got

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
        import cv2

        pos_msec = cv2.CAP_PROP_POS_MSEC
        failures = 0
        t0 = time.monotonic()
        while not self._stop.is_set():
            if self.realtime:
                assert self._nominal_fps is not None  # checked in __init__
                wait = t0 + self._seq / self._nominal_fps - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return
            t_start = time.monotonic()
            img = None
            with self._cap_lock:
                ok = self._cap.grab()
                t = time.monotonic()
                if ok:
                    ok, img = self._cap.retrieve()
                    pos = float(self._cap.get(pos_msec))
            if not ok or img is None:
                if not self._live:
                    raise StreamEnded(f"{self.name} ended after {self._seq} frames", self._seq)
                failures += 1
                self._recover(failures)
                continue
            failures = 0
            if self._shape is None:
                self._shape = img.shape
            elif img.shape != self._shape:
                raise SourceError(
                    f"{self.name} sent frame {self._seq} of shape {img.shape} after frames of shape "
                    f"{self._shape}: the camera changed its size mid-stream; fix its resolution and restart"
                )
            frame = Frame(img, t, self._seq, meta={"t_start": t_start, "pos_msec": pos})
            self._seq += 1
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
                f"{self.name} stopped delivering frames after {self._seq} frames and did not come back "
                f"after {self._reconnect_max} reconnect attempts over {waited:.1f} s: {self._check_hint()}, "
                "then start again"
            )
        if self._stop.wait(self._backoff * 2 ** (failures - 1)):
            return
        cap = open_capture(self.device, self._api)
        with self._cap_lock:
            self._cap.release()
            self._cap = cap
        if cap.isOpened():
            self.reconnects += 1
            import cv2

            with self._cap_lock:  # re-apply what was asked (mismatches were reported at open)
                for key, value in self._asked.items():
                    cap.set(getattr(cv2, PROPERTIES[key]), value)

    def _push(self, frame: Frame) -> None:
        with self._cond:
            if self._drop:
                if len(self._buf) >= self._buffer_len:
                    self._buf.popleft()
                    self._dropped += 1
            else:
                while len(self._buf) >= self._buffer_len and not self._stop.is_set():
                    self._cond.wait(0.1)
            self._buf.append(frame)
            self._cond.notify_all()

    # ------------------------------------------------------------------ consumer side
    def read(self, timeout: float | None = None) -> Frame:
        """Return the oldest buffered frame, waiting for one if needed.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait; None = :attr:`default_timeout` (5 s unless set).

        Raises
        ------
        StreamEnded
            The video file ended (after every buffered frame was returned).
        SourceError
            No frame within the timeout, the camera failed (after reconnect attempts), its
            frame size changed, or the source is closed.
        """
        timeout = check_timeout(timeout)
        if timeout is None:
            timeout = self.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._buf:
                if self._closed:
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

    def close(self) -> None:
        """Stop the grab thread, release the device and discard buffered frames. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.wait()
        with self._cap_lock:
            self._cap.release()
        with self._cond:
            self._buf.clear()

    def __repr__(self) -> str:
        return f"CameraSource({self.device!r}, frames={self._seq}, dropped={self._dropped})"
