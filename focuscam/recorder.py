"""Record frames from a source into a "focuscam-stack/1" folder (kind "sequence").

:func:`record` is the loop ``source -> StackWriter``: every frame is written losslessly as a
PNG as it comes (16-bit frames stay 16-bit) with its capture time ``t`` (``time.monotonic()``
seconds) and its focus position ``z`` in um when the source knows it, and listed (in
``stack.json``, then the recording journal ``journal.ndjson``) as soon as its PNG is complete;
the end of the recording, for any reason, folds the journal into ``stack.json``. So Ctrl-C,
SIGKILL, a full disk or a camera dying mid-recording leaves a valid stack of every complete
frame, and the error says what happened and how many frames were saved.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import Aborted, InputError, SourceError, StackError
from .sources.base import FrameSource, StreamEnded, check_limits
from .types import Frame

__all__ = ["RecordResult", "record"]


@dataclass(frozen=True)
class RecordResult:
    """What :func:`record` wrote.

    Attributes
    ----------
    path : Path
        The stack folder.
    frames : int
        Frames saved.
    seconds : float
        Duration of the recording (monotonic clock), in seconds.
    reason : str
        Why it stopped: ``"frames"`` or ``"seconds"`` (the limit was reached) or ``"ended"``
        (a finite source such as a video file ended, with no limit asked).
    dropped : int
        Frames the source discarded during the recording because writing was slower than the
        camera (live sources only; the saved frames' ``t`` show the gaps).
    """

    path: Path
    frames: int
    seconds: float
    reason: str
    dropped: int = 0


def record(
    source: FrameSource | str,
    out: str | os.PathLike[str],
    *,
    frames: int | None = None,
    seconds: float | None = None,
    name: str | None = None,
    description: str = "",
    flush_every: int = 10,
    on_frame: Callable[[int, Frame], None] | None = None,
    source_opts: dict | None = None,
    format: str | None = None,
) -> RecordResult:
    """Record frames from ``source`` into a new stack folder ``out``.

    Parameters
    ----------
    source : FrameSource or str
        An open source (left open), or a source spec (``camera:0``, ``video:FILE``, ...) that is
        opened after ``out`` was created and closed at the end.
    out : str or Path
        The stack folder to create; it must not exist or be empty.
    frames : int, optional
        Stop after this many frames.
    seconds : float, optional
        Stop after this many seconds (monotonic clock). With neither limit, record until the
        source ends (a video file) or Ctrl-C.
    name : str, optional
        Stack name; default: the folder's name.
    description : str
        What the camera saw, stored in stack.json.
    flush_every : int
        Sync the journal to the disk after this many frames (and always at the end).
    on_frame : callable, optional
        Called as ``on_frame(count, frame)`` after each saved frame (e.g. a progress line).
    source_opts : dict, optional
        Options for :func:`~focuscam.sources.open_source` when ``source`` is a spec.
    format : {"stack", "ome-tiff"}, optional
        ``"stack"`` (a focuscam-stack/1 folder) or ``"ome-tiff"`` (one OME-TIFF file, see
        :mod:`focuscam.ometiff`); default from ``out`` (``.ome.tif`` means OME-TIFF).

    Returns
    -------
    RecordResult

    Raises
    ------
    InputError
        Bad limits, or ``out`` exists and is not empty (nothing is touched).
    SourceError
        The source failed, or a finite source ended before the asked frames or seconds; the
        message ends with how many frames were saved (a valid stack).
    StorageError
        A frame could not be written (e.g. a full disk; exit code 3); the message says how many
        frames the stack on disk holds, every one of them listed.
    Aborted
        Ctrl-C (KeyboardInterrupt) during the recording; the stack holds every frame so far.
    """
    from ._wallclock import utc_now
    from .ometiff import open_writer

    frames, seconds = check_limits(frames, seconds)
    out = Path(out)
    if not isinstance(source, FrameSource | str):
        raise InputError(f"source {source!r} must be a FrameSource or a source spec such as camera:0")
    own = isinstance(source, str)
    writer = open_writer(
        out,
        format=format,
        name=name or out.name.split(".")[0],
        kind="sequence",
        flush_every=flush_every,
        description=description,
        extra={"recorded_from": source if own else source.name, "recorded_utc": utc_now()},
    )
    src: FrameSource | None = None if own else source
    count = 0
    dropped0 = 0
    t0 = time.monotonic()

    def saved() -> str:
        return f"{count} frames saved in {out}" if count else f"no frame was saved (nothing left in {out})"

    try:
        if src is None:
            from .sources.spec import open_source

            src = open_source(source, **(source_opts or {}))
            writer.extra["recorded_from"] = src.name
        dropped0 = src.dropped
        deadline = None if seconds is None else t0 + seconds
        reason = "frames"
        while frames is None or count < frames:
            timeout = src.default_timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    reason = "seconds"
                    break
                timeout = left if timeout is None else min(timeout, left)
            try:
                frame = src.read(timeout=timeout)
            except StreamEnded as exc:
                if frames is not None or seconds is not None:
                    asked = f"{frames} frames" if frames is not None else f"{seconds:g} s"
                    raise SourceError(f"{exc} (before the {asked} asked); {saved()}") from None
                reason = "ended"
                break
            except SourceError:
                if deadline is not None and time.monotonic() >= deadline:
                    reason = "seconds"
                    break
                raise
            if deadline is not None and frame.t >= deadline:
                reason = "seconds"
                break
            writer.append(frame.pixels, z=frame.z, t=frame.t)
            count += 1
            if on_frame is not None:
                on_frame(count, frame)
    except KeyboardInterrupt:
        _close_writer(writer, count)
        raise Aborted(f"recording interrupted: {saved()}") from None
    except StackError:
        _close_writer(writer, count)
        raise
    except SourceError as exc:
        _close_writer(writer, count)
        msg = str(exc)
        if "saved in" not in msg and "was saved" not in msg:
            msg = f"{msg}; {saved()}"
        raise SourceError(msg) from exc
    except BaseException:
        _close_writer(writer, count)
        raise
    finally:
        if own and src is not None:
            src.close()
    _close_writer(writer, count)
    return RecordResult(out, count, time.monotonic() - t0, reason, src.dropped - dropped0)


def _close_writer(writer, count: int) -> None:
    """Close the writer (final stack.json flush); a failure there says how much is on disk."""
    try:
        writer.close()
    except StackError as exc:
        raise StackError(f"{exc} (of the {count} frames recorded)") from None
