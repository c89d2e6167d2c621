"""The frame-source contract every source follows (cameras, video files, replayed stacks).

A :class:`FrameSource` is a context manager and an iterator of :class:`~focuscam.types.Frame`:

- :meth:`FrameSource.read` returns the next frame (waiting up to ``timeout`` seconds);
- :meth:`FrameSource.fresh_frame` returns the first frame whose capture *began* after a given
  ``time.monotonic()`` instant (the autofocus calls it after every motor move);
- :meth:`FrameSource.close` releases the device and stops every thread; it is safe to call twice.

Times: ``Frame.t`` is the ``time.monotonic()`` second at which the frame was captured (for a
camera: right after ``grab()`` returned). ``Frame.meta["t_start"]`` is the monotonic second at
which its capture began (for a camera: right before ``grab()`` was called).
:meth:`fresh_frame` compares ``t_start``, never ``t``, so a frame that was being exposed or
decoded while the motor still moved is never handed back.

The end of a finite stream (a video file that ended, a replay without ``loop``) is a
:class:`StreamEnded` error from :meth:`read`, and the end of iteration for ``for frame in src``.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

from ..errors import InputError, SourceError
from ..types import Frame

__all__ = ["FrameSource", "SourceWarning", "StreamEnded", "check_timeout"]


class SourceWarning(UserWarning):
    """A source could not do exactly what was asked (e.g. a camera clamped a property)."""


class StreamEnded(SourceError):
    """A finite source has no more frames (a video file ended, a replay without ``loop``).

    Attributes
    ----------
    frames : int
        How many frames the source delivered before it ended.
    """

    def __init__(self, message: str, frames: int) -> None:
        super().__init__(message)
        self.frames = frames


def check_timeout(timeout: object, param: str = "timeout") -> float | None:
    """Validate a timeout in seconds: None (wait without limit) or a number >= 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not math.isfinite(timeout):
        raise InputError(f"{param} {timeout!r} must be a number of seconds >= 0 or None")
    if timeout < 0:
        raise InputError(f"{param} {timeout!r} must be >= 0 seconds")
    return float(timeout)


def check_limits(frames: object, seconds: object) -> tuple[int | None, float | None]:
    """Validate how much of a stream to take: ``frames`` (an integer >= 1) and ``seconds`` (> 0),
    each None for no limit; returns them as ``(int | None, float | None)``."""
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int) or frames < 1):
        raise InputError(f"frames {frames!r} must be an integer >= 1 (or None for no limit)")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise InputError(f"seconds {seconds!r} must be a number > 0 (or None for no limit)")
    return frames, None if seconds is None else float(seconds)


class FrameSource(ABC):
    """Base of every frame source: context manager, iterator, ``read``, ``fresh_frame``, ``close``.

    Subclasses implement :meth:`read`, :meth:`close` and the properties :attr:`size`,
    :attr:`fps` and :attr:`dropped`; each frame they return carries ``meta["t_start"]``.

    Attributes
    ----------
    name : str
        What the source reads (e.g. ``"camera 0"``, ``"video clip.avi"``, ``"replay scorpion"``).
    default_timeout : float or None
        Seconds :meth:`read` waits when it is given ``timeout=None``; None = no limit.
    """

    name: str = "source"
    default_timeout: float | None = None

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def read(self, timeout: float | None = None) -> Frame:
        """Return the next frame.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait for a frame; None = the source's :attr:`default_timeout`.

        Raises
        ------
        StreamEnded
            The finite stream has no more frames.
        SourceError
            No frame came within the timeout, the device failed, or the source is closed.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device and stop every thread of the source (safe to call twice)."""

    @property
    @abstractmethod
    def size(self) -> tuple[int, int] | None:
        """Frame size ``(width, height)`` in pixels, or None while unknown."""

    @property
    @abstractmethod
    def fps(self) -> float | None:
        """Nominal frame rate in frames per second, or None when unknown or unpaced."""

    @property
    @abstractmethod
    def dropped(self) -> int:
        """How many captured frames were discarded because the consumer was slower."""

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return getattr(self, "_closed", False)

    # ------------------------------------------------------------------ shared behaviour
    def fresh_frame(self, after: float, timeout: float | None = None) -> Frame:
        """Return the first frame whose capture began after the monotonic instant ``after``.

        Frames buffered before ``after`` (or whose capture started before it) are skipped,
        so the result never shows the scene as it was before ``after`` (e.g. before the focus
        motor stopped).

        Parameters
        ----------
        after : float
            A ``time.monotonic()`` second.
        timeout : float, optional
            Seconds to wait in total; None = the source's :attr:`default_timeout`.

        Raises
        ------
        SourceError
            No such frame within ``timeout``, or the source failed or ended.
        """
        if isinstance(after, bool) or not isinstance(after, int | float) or not math.isfinite(after):
            raise InputError(f"after {after!r} must be a time.monotonic() second (a finite number)")
        timeout = check_timeout(timeout)
        if timeout is None:
            timeout = self.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                frame = self.read(timeout=remaining)
            except StreamEnded:
                raise
            except SourceError as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise SourceError(
                        f"no frame from {self.name} began after t={after:.3f} within {timeout:g} s: "
                        "check that the camera still delivers frames or raise the timeout"
                    ) from exc
                raise
            if frame.meta.get("t_start", frame.t) > after:
                return frame

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames until the stream ends (a :class:`StreamEnded` stops the iteration)."""
        while True:
            try:
                frame = self.read()
            except StreamEnded:
                return
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
