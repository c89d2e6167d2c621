"""Open a frame source from a command-line spec.

Accepted forms:

- ``camera:0`` or ``0``: camera index 0;
- ``camera:/dev/video2``: a camera device path; ``camera:rtsp://...`` (or a bare URL): a stream;
- ``video:FILE``: a video file, decoded as fast as possible;
- ``replay:STACK_DIR``: a recorded stack (a stack folder, image folder or multi-page TIFF);
- ``mm:CFG`` or ``mm:CFG#Label``: a Micro-Manager camera (or pass a ``pymmcore_plus.CMMCorePlus``);
- ``picamera:N``: a Raspberry Pi camera through picamera2;
- a bare path: a video file when it is a file with a video suffix, a stack otherwise.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..stacks import VIDEO_EXTENSIONS
from .base import FrameSource

__all__ = ["SPEC_FORMS", "open_source"]

#: One line listing the accepted spec forms (used in error messages and --help).
SPEC_FORMS = (
    "camera:INDEX, camera:/dev/videoN, camera:URL, video:FILE, replay:STACK_DIR, mm:CFG[#Label], "
    "picamera:N, a bare index or path"
)


def _make(cls: type, target: Any, opts: dict[str, Any]) -> FrameSource:
    params = inspect.signature(cls).parameters
    unknown = [k for k in opts if k not in params or k in ("device", "stack")]
    if unknown:
        allowed = ", ".join(k for k in params if k not in ("device", "stack"))
        kind = "replay" if cls.__name__ == "ReplaySource" else "camera and video"
        raise InputError(
            f"option(s) {', '.join(unknown)} do not apply to {kind} sources ({cls.__name__}): "
            f"they take {allowed}"
        )
    return cls(target, **opts)


def _camera(target: str, opts: dict[str, Any]) -> FrameSource:
    from .camera import CameraSource

    if not target:
        raise InputError("source 'camera:' names no camera: give camera:0 or camera:/dev/video2")
    device: int | str = int(target) if target.isdigit() else target
    if isinstance(device, str) and "://" not in device and not device.startswith("/dev/"):
        raise InputError(
            f"camera {target!r} is not an index, a /dev path or a URL: give camera:0 or camera:/dev/video2"
        )
    return _make(CameraSource, device, opts)


def _video(target: str, opts: dict[str, Any]) -> FrameSource:
    from .camera import CameraSource

    path = Path(target)
    if not target:
        raise InputError("source 'video:' names no file: give video:FILE")
    if not path.exists():
        raise InputError(f"video file {target} does not exist: check the path")
    if not path.is_file():
        raise InputError(f"video {target} is not a file: for a stack folder use replay:{target}")
    return _make(CameraSource, str(path), opts)


def _replay(target: str, opts: dict[str, Any]) -> FrameSource:
    from ..stacks import load_stack
    from .replay import ReplaySource

    if not target:
        raise InputError("source 'replay:' names no stack: give replay:STACK_DIR")
    if not Path(target).exists():
        raise InputError(f"stack {target} does not exist: give the folder of a recorded stack")
    return _make(ReplaySource, load_stack(target), opts)


def _mm(target: str, opts: dict[str, Any]) -> FrameSource:
    from .mmcore import MMCoreSource

    return _make(MMCoreSource, target, opts)


def _picamera(target: str, opts: dict[str, Any]) -> FrameSource:
    from .picamera import PicameraSource

    return _make(PicameraSource, target, opts)


_SCHEMES = {"camera": _camera, "video": _video, "replay": _replay, "mm": _mm, "picamera": _picamera}


def open_source(spec: str | int | os.PathLike[str], **opts: Any) -> FrameSource:
    """Open the frame source a spec names.

    Parameters
    ----------
    spec : str or int or Path
        ``camera:0``, ``camera:/dev/video2``, ``camera:URL``, ``video:FILE``,
        ``replay:STACK_DIR``; a bare integer is a camera index, a bare URL a stream, a bare path a
        video file (a file with a video suffix) or a stack (anything else).
    **opts
        Keyword arguments for the source class (e.g. ``fps``, ``loop`` for a replay; ``buffer``,
        ``realtime``, ``width`` for a camera or video).

    Returns
    -------
    FrameSource
        A :class:`~focuscam.sources.camera.CameraSource` or
        :class:`~focuscam.sources.replay.ReplaySource`; close it (or use it in a with-block).

    Raises
    ------
    InputError
        An unknown spec form (the message lists the accepted ones), a missing file or stack,
        an option the source does not take.
    SourceError
        A camera or video that does not open.
    """
    from ..mmcore import is_core

    if is_core(spec):  # a pymmcore_plus.CMMCorePlus: its camera
        return _mm(spec, opts)  # type: ignore[arg-type]
    if isinstance(spec, bool):
        raise InputError(f"source {spec!r} is not a spec: use one of {SPEC_FORMS}")
    if isinstance(spec, int):
        if spec < 0:
            raise InputError(f"camera index {spec} must be >= 0")
        return _camera(str(spec), opts)
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise InputError(f"source {spec!r} is not a spec: use one of {SPEC_FORMS}")
    text = spec.strip()
    if not text:
        raise InputError(f"source is empty: use one of {SPEC_FORMS}")
    scheme, sep, rest = text.partition(":")
    if sep and scheme in _SCHEMES:
        return _SCHEMES[scheme](rest, opts)
    if text.isdigit():
        return _camera(text, opts)
    if "://" in text:
        return _camera(text, opts)
    path = Path(text)
    if path.exists():
        if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
            return _video(text, opts)
        return _replay(text, opts)
    if sep and len(scheme) > 1 and "/" not in scheme:
        raise InputError(f"source {spec!r} has an unknown kind {scheme!r}: use one of {SPEC_FORMS}")
    raise InputError(
        f"source {spec!r} is neither an existing file or folder nor a spec: use one of {SPEC_FORMS}"
    )
