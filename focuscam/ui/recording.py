"""The window's ``r`` (record) and ``s`` (snapshot) keys, for :class:`~focuscam.ui.actions.EngineActions`.

:class:`RecordingActions` starts and stops a recording (a writer such as a
:class:`~focuscam.stacks.StackWriter`), appends the engine's frames to it and writes PNG
snapshots of the newest frame (16-bit frames stay 16-bit). Nothing here measures, searches or
moves the drive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["RecordingActions"]


class RecordingActions:
    """Mixin of :class:`~focuscam.ui.actions.EngineActions`: recording and snapshots.

    The host calls :meth:`_init_recording` in its ``__init__`` and provides ``_status(**flags)``
    (the window's status flags; here ``recording=``).

    Attributes
    ----------
    writer : object or None
        The running recording (``append(pixels, z=, t=)``, ``close()``, ``len``), or None.
    snapshots : list of Path
        Every snapshot written, in order.
    latest_frame : callable or None
        Returns the newest frame (a Frame or its pixels) for snapshots.
    """

    _status: Callable[..., Any]

    def _init_recording(
        self,
        start_recording: Callable[[], Any] | None,
        latest_frame: Callable[[], Any] | None,
        snapshot_dir: str | Path,
    ) -> None:
        """Set the recording state: no recording runs, no snapshot was written."""
        self.writer: Any = None
        self.snapshots: list[Path] = []
        self._start_recording = start_recording
        self.latest_frame = latest_frame
        self._snapshot_dir = Path(snapshot_dir)
        self._rec_lock = threading.Lock()

    def toggle_recording(self) -> str | None:
        with self._rec_lock:
            if self.writer is not None:
                writer, self.writer = self.writer, None
                writer.close()
                self._status(recording=False)
                return f"recorded {len(writer)} frames to {getattr(writer, 'path', '?')}"
            if self._start_recording is None:
                return "recording needs an output folder: start with --record DIR"
            self.writer = self._start_recording()
            self._status(recording=True)
            return f"recording to {getattr(self.writer, 'path', '?')}"

    def record(self, frame: Any) -> None:
        """Append a frame to the running recording (no-op when not recording); engine thread."""
        with self._rec_lock:
            if self.writer is None or frame is None:
                return
            pixels = getattr(frame, "pixels", frame)
            self.writer.append(pixels, z=getattr(frame, "z", None), t=getattr(frame, "t", None))

    def _close_recording(self) -> None:
        """Close the running recording, if any (on quit)."""
        with self._rec_lock:
            writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()

    def snapshot(self) -> str | None:
        if self.latest_frame is None:
            return "no frame source to snapshot"
        frame = self.latest_frame()
        if frame is None:
            return "no frame yet"
        import cv2

        pixels = getattr(frame, "pixels", frame)
        seq = getattr(frame, "seq", None)
        self._snapshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suffix = f"-{seq}" if seq is not None else ""
        path = self._snapshot_dir / f"snapshot-{stamp}{suffix}.png"
        n = 1
        while path.exists():
            path = self._snapshot_dir / f"snapshot-{stamp}{suffix}_{n}.png"
            n += 1
        if not cv2.imwrite(str(path), pixels):
            raise InputError(f"cannot write snapshot {path}: check the folder is writable")
        self.snapshots.append(path)
        return f"snapshot saved: {path}"
