"""Replay a recorded stack ("sequence" or "z-sweep") as if a camera were delivering it.

Pacing: at a given ``fps``; else at the stack's recorded capture times ``t`` (their offsets
from the first frame); else, with neither, as fast as the frames decode. A replay has no
background thread: :meth:`ReplaySource.read` decodes the next frame and waits until its
scheduled time, so nothing is ever dropped (a slow consumer makes the replay lag instead).

Each frame's ``t`` (and ``meta["t_start"]``) is the ``time.monotonic()`` second at which the
replay delivered it: its "capture" on the replay's clock. A late consumer shifts the schedule
(the replay slows down) instead of receiving a burst of overdue frames. ``meta`` also holds ``index`` (the
frame's index in the stack), ``stack_t`` (its recorded time or None), ``stack_z`` and
``z_unit``. ``Frame.z`` is the stack's ``z`` in um for a z-sweep whose ``z_unit`` is ``"um"``
or ``"mm"`` (converted); None otherwise (steps and indices are not positions in um).

With :attr:`ReplaySource.keep_jpeg` on, a frame read from an 8-bit JPEG file also carries that
file's bytes in ``meta["jpeg"]`` (as a webcam's MJPEG frame would), so that a live view can send
them on as they are instead of encoding the pixels again (``focuscam serve`` does).
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import numpy as np

from .._files import FileProblem, read_regular
from ..errors import InputError, SourceError, StackError
from ..stacks import Stack, load_stack
from ..stacks.safety import MAX_FRAME_BYTES, image_header, inside, jpeg_segments
from ..types import Frame
from .base import FrameSource, StreamEnded, check_timeout

__all__ = ["ReplaySource"]

_TO_UM = {"um": 1.0, "mm": 1000.0}
_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def _scan_start(data: bytes) -> int | None:
    """Where the first scan (SOS marker) of a JPEG starts: its header segments (APPn, tables, frame
    header) are all before it. None when the markers cannot be walked up to it."""
    for marker, pos in jpeg_segments(data):
        if marker == 0xDA:
            return pos
    return None


def plain_jpeg(data: bytes, shape: tuple[int, ...]) -> bool:
    """True when ``data`` is an 8-bit JPEG of ``shape`` (H, W[, C]) that a browser shows exactly as
    OpenCV decoded it: no EXIF block (a browser applies its orientation, OpenCV's IMREAD_UNCHANGED
    does not; any EXIF block is refused, which only costs an encoding). Only the header segments
    are searched (a browser reads EXIF from them, not from the compressed scan), never the scan."""
    head = image_header(data)  # reads the markers up to the frame header, copies nothing
    if head is None or head.format != "JPEG" or head.dtype != "uint8":
        return False
    if (head.height, head.width) != tuple(shape[:2]):
        return False
    end = _scan_start(data)
    return end is not None and data.find(b"Exif\x00\x00", 0, end) < 0


class ReplaySource(FrameSource):
    """Frames of a stack, replayed at their recorded times or a given rate, optionally looping.

    Parameters
    ----------
    stack : Stack or str or Path
        A loaded :class:`~focuscam.stacks.Stack` or anything :func:`~focuscam.stacks.load_stack`
        reads.
    fps : float, optional
        Replay rate in frames per second (> 0). Default: the recorded times ``t`` when the stack
        has them for every frame, else as fast as possible.
    loop : bool
        Start again at frame 0 after the last frame (sequence numbers keep counting).
    timeout : float, optional
        Default seconds :meth:`read` waits; None = no limit.

    Raises
    ------
    InputError
        A bad parameter, or a stack that cannot be read (a :class:`~focuscam.errors.StackError`).
    """

    def __init__(
        self,
        stack: Stack | str | os.PathLike[str],
        *,
        fps: float | None = None,
        loop: bool = False,
        timeout: float | None = None,
    ) -> None:
        self._closed = False
        if not isinstance(stack, Stack):
            stack = load_stack(stack)
        if fps is not None and (
            isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps) or fps <= 0
        ):
            raise InputError(f"fps {fps!r} must be a number of frames per second > 0 (or None)")
        self.stack = stack
        self.name = f"replay {stack.name}"
        self.loop = bool(loop)
        self.default_timeout = check_timeout(timeout)
        n = len(stack)
        self._fps = None if fps is None else float(fps)
        offsets: np.ndarray | None = None
        if fps is not None:
            offsets = np.arange(n) / float(fps)
            period = n / float(fps)
        elif stack.t is not None and np.all(np.isfinite(stack.t)) and np.all(np.diff(stack.t) >= 0):
            offsets = stack.t - stack.t[0]
            step = float(np.median(np.diff(stack.t))) if n > 1 else 0.0
            period = float(offsets[-1]) + step
            if n > 1 and offsets[-1] > 0:
                self._fps = (n - 1) / float(offsets[-1])
        else:
            period = 0.0
        self._offsets = offsets
        self._period = period
        self._scale = _TO_UM.get(stack.z_unit or "") if stack.kind == "z-sweep" else None
        self._n = 0
        self._t0: float | None = None
        self._wake = threading.Event()
        #: Also deliver each 8-bit JPEG frame file's own bytes in ``meta["jpeg"]`` (off by default).
        self.keep_jpeg = False
        path = stack.path
        self._root: Path | None = path if path is not None and path.is_dir() else None

    @property
    def size(self) -> tuple[int, int]:
        """Frame size ``(width, height)`` in pixels."""
        shape = self.stack.shape
        return shape[1], shape[0]

    @property
    def fps(self) -> float | None:
        """The replay rate: the given fps, that of the recorded times, or None (unpaced)."""
        return self._fps

    @property
    def dropped(self) -> int:
        """Always 0: a replay waits for its consumer."""
        return 0

    @property
    def frames(self) -> int:
        """Frames delivered so far."""
        return self._n

    def read(self, timeout: float | None = None) -> Frame:
        """Return the next frame of the stack at its scheduled time.

        Raises
        ------
        StreamEnded
            The last frame was delivered and ``loop`` is off.
        SourceError
            The frame is not due within ``timeout`` seconds, or the source is closed.
        StackError
            A frame file is missing, corrupt or of another size than frame 0 (bad input).
        """
        timeout = check_timeout(timeout)
        if timeout is None:
            timeout = self.default_timeout
        if self._closed:
            raise SourceError(f"{self.name} is closed: open a new source to read more frames")
        n = len(self.stack)
        if self._n >= n and not self.loop:
            raise StreamEnded(f"{self.name} ended after {self._n} frames", self._n)
        lap, i = divmod(self._n, n)
        img = self.stack.image(i)
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = None
        if self._offsets is not None:
            due = self._t0 + lap * self._period + float(self._offsets[i])
            wait = due - now
            if wait > 0:
                if timeout is not None and wait > timeout:
                    self._wake.wait(timeout)
                    raise SourceError(
                        f"the next frame of {self.name} is due in {wait:.3g} s, after the {timeout:g} s "
                        "timeout: raise the timeout or replay at a higher fps"
                    )
                if self._wake.wait(wait):
                    raise SourceError(f"{self.name} was closed while waiting for a frame")
        t = time.monotonic()
        if due is not None and t > due:  # late (a slow consumer): shift the schedule, never burst
            self._t0 += t - due
        raw_z = float(self.stack.z[i])
        z = raw_z * self._scale if self._scale is not None and math.isfinite(raw_z) else None
        stack_t = (
            None if self.stack.t is None or not math.isfinite(self.stack.t[i]) else float(self.stack.t[i])
        )
        meta = {
            "t_start": t,
            "index": i,
            "stack_t": stack_t,
            "stack_z": raw_z if math.isfinite(raw_z) else None,
            "z_unit": self.stack.z_unit,
        }
        if self.keep_jpeg:
            jpeg = self._jpeg(i, img.shape)
            if jpeg is not None:
                meta["jpeg"] = jpeg
        frame = Frame(img, t, self._n, z=z, meta=meta)
        self._n += 1
        return frame

    def _jpeg(self, i: int, shape: tuple[int, ...]) -> bytes | None:
        """The bytes of frame ``i``'s file when it is a plain JPEG (see :func:`plain_jpeg`), else None."""
        if self._root is None or i >= len(self.stack.files):
            return None
        file = self.stack.files[i]
        if file.suffix.lower() not in _JPEG_SUFFIXES:
            return None
        data = self.stack.file_bytes(i)  # the bytes it was just decoded from: not read twice
        if data is None:  # decoded earlier (the stack's cache): read the file again
            try:  # a failure now only costs the viewer an encoding
                data = read_regular(inside(self._root, file, "frame file"), MAX_FRAME_BYTES)
            except (OSError, FileProblem, StackError):
                return None
        return data if plain_jpeg(data, shape) else None

    def close(self) -> None:
        """Stop the replay (a waiting :meth:`read` returns with a SourceError). Safe to call twice."""
        self._closed = True
        self._wake.set()

    def __repr__(self) -> str:
        return f"ReplaySource({self.stack.name!r}, frames={self._n}, loop={self.loop})"
