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

Parts
-----
The open capture, shared by the grab thread and the property calls, is a
:class:`~focuscam.sources._capture.Capture`; the grab thread, its buffer and the reconnects are a
:class:`~focuscam.sources._grabber.FrameGrabber`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from ..errors import InputError, SourceError
from ..types import Frame
from ._capture import PROPERTIES, Capture, check_settings
from ._grabber import FrameGrabber
from .base import FrameSource, SourceWarning, check_timeout

__all__ = ["PROPERTIES", "CameraSource"]


def _check_int(value: object, param: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InputError(f"{param} {value!r} must be an integer >= {lo}")
    return value


def _check_seconds(value: object, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InputError(f"{param} {value!r} must be a number of seconds >= 0")
    return float(value)


def _classify(device: object) -> tuple[int | str, str, str]:
    """A source's device as OpenCV takes it, its kind ("camera", "url" or "file") and its name.

    Raises
    ------
    InputError
        Not a camera index, a device path, a URL or a file; or a video file that does not exist.
    """
    if isinstance(device, bool) or not isinstance(device, int | str | Path):
        raise InputError(f"device {device!r} must be a camera index, a device path, a URL or a file")
    if isinstance(device, int) and device < 0:
        raise InputError(f"camera index {device} must be >= 0")
    if isinstance(device, Path):
        device = str(device)
    if isinstance(device, str) and not device:
        raise InputError("device '' is empty: give a camera index, a device path, a URL or a file")
    if isinstance(device, int):
        kind, name = "camera", f"camera {device}"
    elif "://" in device:
        kind, name = "url", f"stream {device}"
    elif device.startswith("/dev/"):
        kind, name = "camera", f"camera {device}"
    else:
        kind, name = "file", f"video {device}"
        if not Path(device).is_file():
            raise InputError(f"video file {device} does not exist: check the path")
    return device, kind, name


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
        self.device, self.kind, self.name = _classify(device)
        buffer = _check_int(buffer, "buffer", 1)
        self.realtime = bool(realtime)
        drop = (self.kind != "file" or self.realtime) if drop is None else bool(drop)
        live = (self.kind != "file") if live is None else bool(live)
        reconnect = _check_int(reconnect, "reconnect", 0)
        backoff = _check_seconds(backoff, "backoff")
        self.default_timeout = check_timeout(timeout)
        asked = check_settings(
            {
                "width": width,
                "height": height,
                "fps": fps,
                "exposure": exposure,
                "gain": gain,
                "autofocus": autofocus,
                "focus": focus,
            }
        )

        self._capture = Capture(self.device, api, self.kind, self.name)
        self._grabber = FrameGrabber(
            self._capture,
            self.name,
            self.kind,
            buffer=buffer,
            drop=drop,
            live=live,
            reconnect=reconnect,
            backoff=backoff,
            asked=asked,
        )
        self._closed = False
        try:
            for key, value in asked.items():
                self.set_property(key, value)
        except BaseException:  # e.g. a warning turned into an error: release the device first
            self.close()
            raise
        self._nominal_fps = self._capture.get("CAP_PROP_FPS") or None
        if self.realtime and not self._nominal_fps:
            self.close()
            raise InputError(f"{self.name} reports no frame rate, so realtime=True cannot pace it")
        self._grabber.start(self._nominal_fps if self.realtime else None)

    # ------------------------------------------------------------------ properties
    @property
    def size(self) -> tuple[int, int] | None:
        """Frame size ``(width, height)`` in pixels: of the first frame, else what the backend says."""
        shape = self._grabber.shape
        if shape is not None:
            return shape[1], shape[0]
        if self._closed:
            return None
        w = int(self._capture.get("CAP_PROP_FRAME_WIDTH"))
        h = int(self._capture.get("CAP_PROP_FRAME_HEIGHT"))
        return (w, h) if w > 0 and h > 0 else None

    @property
    def fps(self) -> float | None:
        """The frame rate the backend reports (``CAP_PROP_FPS``), or None when it reports none."""
        return self._nominal_fps

    @property
    def dropped(self) -> int:
        """Frames discarded because the buffer was full (the consumer was slower than the camera)."""
        return self._grabber.dropped

    @property
    def frames(self) -> int:
        """Frames captured so far (delivered, buffered or dropped)."""
        return self._grabber.frames

    @property
    def reconnects(self) -> int:
        """Times the device was reopened after it stopped delivering frames."""
        return self._grabber.reconnects

    @property
    def alive(self) -> bool:
        """True while the grab thread runs."""
        return self._grabber.running

    def get_property(self, name: str) -> float:
        """Read a camera property (one of :data:`PROPERTIES`) in the driver's units."""
        if name not in PROPERTIES:
            raise InputError(f"camera property {name!r} is unknown: use one of {', '.join(PROPERTIES)}")
        if self._closed:
            raise SourceError(f"{self.name} is closed: open a new source")
        return self._capture.get(PROPERTIES[name])

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
        if name not in PROPERTIES:
            raise InputError(f"camera property {name!r} is unknown: use one of {', '.join(PROPERTIES)}")
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InputError(f"{name} {value!r} must be a finite number")
        if self._closed:
            raise SourceError(f"{self.name} is closed: open a new source")
        accepted, got = self._capture.set(PROPERTIES[name], value)
        if not accepted or abs(got - value) > 1e-6 * max(1.0, abs(value)):
            how = "refused" if not accepted else "changed"
            warnings.warn(
                f"{self.name} {how} {name}={value:g}: it reads back {got:g}",
                SourceWarning,
                stacklevel=2,
            )
        return got

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
        return self._grabber.read(timeout)

    def close(self) -> None:
        """Stop the grab thread, release the device and discard buffered frames. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._grabber.stop()
        self._capture.release()
        self._grabber.clear()

    def __repr__(self) -> str:
        return f"CameraSource({self.device!r}, frames={self.frames}, dropped={self.dropped})"
