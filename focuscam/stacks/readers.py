"""Reading stacks: "focuscam-stack/1" folders (with their journal), image folders, TIFF, video.

:func:`load_stack` dispatches on what the path is: a folder with stack.json, a plain image
folder, or a file matched by one of :data:`FILE_READERS` (multi-page TIFF, video). Another
file reader is added with :func:`register_reader` (e.g. OME-TIFF), ahead of the built-in ones.

Nothing is trusted: every path stays inside the stack folder (symbolic links included), every
file read is a regular file of bounded size, stack.json is bounded in size and nesting, and the
frame count is bounded (:mod:`focuscam.stacks.safety`). Frames of a folder decode lazily.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._files import FileProblem, file_kind, open_regular
from ..errors import StackError
from .format import (
    FIX,
    FORMAT,
    IMAGE_EXTENSIONS,
    JOURNAL,
    TIFF_EXTENSIONS,
    VIDEO_EXTENSIONS,
    check_entry,
    natural_key,
    normalise_pixels,
    parse_meta,
)
from .safety import MAX_FRAME_BYTES, MAX_FRAMES, MAX_PIXELS, image_header, inside, read_json
from .stack import Stack

__all__ = ["FILE_READERS", "load_stack", "read_journal", "register_reader"]

#: Largest journal read (bytes) and longest journal line.
MAX_JOURNAL_BYTES = 128 << 20
MAX_JOURNAL_LINE = 1 << 16

Reader = Callable[[Path], Stack]
Matcher = Callable[[Path], bool]


def load_stack(path: str | os.PathLike[str]) -> Stack:
    """Read a focus stack from disk.

    Parameters
    ----------
    path : str or Path
        One of: a "focuscam-stack/1" folder (or its ``stack.json``); a plain folder of images
        (natural sort, so ``img2`` comes before ``img10``; ``z`` = index, ``z_unit`` ``"index"``);
        a multi-page TIFF; a video file (``z`` = frame index); any file a reader registered with
        :func:`register_reader` accepts.

    Returns
    -------
    Stack

    Raises
    ------
    StackError
        With one line naming the file and the fix: a missing path, malformed or invalid
        stack.json or journal, missing or unsafe frame files (outside the folder, not regular,
        declaring too many pixels), an empty folder, an unreadable TIFF or video.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise StackError(
            f"stack {p} does not exist: give a stack folder, an image folder, a TIFF or a video"
        ) from None
    except (OSError, ValueError) as exc:
        raise StackError(f"stack {p} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    if p.name == "stack.json" and not stat.S_ISDIR(st.st_mode):
        return _load_format(p.parent)
    if stat.S_ISDIR(st.st_mode):
        if os.path.lexists(p / "stack.json"):
            return _load_format(p)
        return _load_image_folder(p)
    if not stat.S_ISREG(st.st_mode):
        raise StackError(f"stack {p} is {file_kind(st.st_mode)}: give a stack folder, a TIFF or a video")
    for match, load in FILE_READERS:
        if match(p):
            return load(p)
    raise StackError(
        f"{p} is not a stack: give a stack folder, an image folder, a multi-page TIFF "
        f"({', '.join(TIFF_EXTENSIONS)}) or a video ({', '.join(VIDEO_EXTENSIONS)})"
    )


def register_reader(match: Matcher, load: Reader) -> None:
    """Read files for which ``match(path)`` is true with ``load(path) -> Stack``.

    Registered readers are tried before the built-in ones (TIFF, video), newest first. ``load``
    gets a path that is a regular file; it raises :class:`~focuscam.errors.StackError`.
    """
    FILE_READERS.insert(0, (match, load))


# ---------------------------------------------------------------------- focuscam-stack/1
def _load_format(folder: Path) -> Stack:
    jpath = folder / "stack.json"
    inside(folder, jpath, "stack.json")
    meta = read_json(jpath, FIX)
    entries = parse_meta(meta, jpath)
    journal = read_journal(folder, {e["file"] for e in entries}, len(entries))
    if journal:
        entries = entries + journal
    if entries and _uncommitted(folder, entries[-1]["file"]):
        entries = entries[:-1]
        if not entries:
            raise StackError(
                f"{folder} holds no complete frame: the recording ended before its first frame was "
                f"written (only a .part of it is on disk); record again"
            )
    if len(entries) != len(meta.get("frames", ())):
        meta = dict(meta, frames=entries)
    if not entries:
        raise StackError(
            f'{jpath}: \'frames\' must be a non-empty list of {{"file": string, "z": ...}}: {FIX}'
        )
    files = _check_files(folder, [e["file"] for e in entries], jpath)
    z = np.array([np.nan if e["z"] is None else float(e["z"]) for e in entries], dtype=np.float64)
    t = np.array([np.nan if e.get("t") is None else float(e["t"]) for e in entries], dtype=np.float64)
    return Stack(
        path=folder,
        meta=meta,
        files=files,
        z=z,
        t=None if np.all(np.isnan(t)) else t,
        root=folder,
    )


def _uncommitted(folder: Path, name: str) -> bool:
    """True for the last listed frame of a writer killed between listing it and renaming its
    complete ``.part`` (StackWriter's commit): its name is absent, its ``.part`` is there."""
    path = folder / name
    return not os.path.lexists(path) and os.path.lexists(path.with_name(path.name + ".part"))


def _check_files(folder: Path, names: list[str], listed_in: Path) -> list[Path]:
    """Every name a regular file inside ``folder`` (links resolved); one lstat per file."""
    parents: set[str] = set()
    files: list[Path] = []
    for name in names:
        fpath = folder / name
        parent = os.path.dirname(name)
        if parent not in parents:  # frames/ (a link to elsewhere is refused), once
            inside(folder, folder / parent, "folder")
            parents.add(parent)
        try:
            st = os.lstat(fpath)
            if stat.S_ISLNK(st.st_mode):
                inside(folder, fpath, "frame file")
                st = os.stat(fpath)
        except FileNotFoundError:
            raise StackError(
                f"frame file {fpath} (listed in {listed_in}) is missing: restore it or remove its entry"
            ) from None
        except OSError as exc:
            raise StackError(f"cannot read frame file {fpath}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            raise StackError(
                f"frame file {fpath} (listed in {listed_in}) is {file_kind(st.st_mode)}, not a regular "
                "file: replace it with the image file"
            )
        files.append(fpath)
    return files


def read_journal(folder: Path, known: set[str], listed: int) -> list[dict[str, Any]]:
    """The journal's frame entries not already in stack.json, in order (see FORMAT.md).

    A last line without its newline (a writer killed mid-line) is ignored; any other line that
    is not a valid frame entry is a StackError.
    """
    path = folder / JOURNAL
    if not os.path.lexists(path):
        return []
    inside(folder, path, "journal")
    fix = "remove the damaged line (or the journal, losing the frames it lists)"
    try:
        fd = open_regular(path, MAX_JOURNAL_BYTES)
    except FileProblem as exc:
        raise StackError(f"journal {path} {exc}: {fix}") from None
    except OSError as exc:
        raise StackError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    out: list[dict[str, Any]] = []
    seen = set(known)
    with os.fdopen(fd, "rb") as fh:
        lineno = 0
        while True:
            line = fh.readline(MAX_JOURNAL_LINE + 1)
            if not line:
                break
            lineno += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_JOURNAL_LINE:
                    raise StackError(f"{path}: line {lineno} is longer than {MAX_JOURNAL_LINE} bytes: {fix}")
                break  # the incomplete last line of a writer killed mid-line
            try:
                entry = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError):
                raise StackError(f"{path}: line {lineno} is not a JSON frame entry: {fix}") from None
            check_entry(entry, f"{path}: line {lineno}")
            if entry["file"] in seen:
                continue
            seen.add(entry["file"])
            out.append(entry)
            if listed + len(out) > MAX_FRAMES:
                raise StackError(
                    f"{path} takes the stack past {MAX_FRAMES} frames: split the recording into stacks"
                )
    return out


# ---------------------------------------------------------------------- other inputs
def _load_image_folder(folder: Path) -> Stack:
    found: list[Path] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                    found.append(folder / entry.name)
                    if len(found) > MAX_FRAMES:
                        raise StackError(f"{folder} holds more than {MAX_FRAMES} images: split it")
    except OSError as exc:
        raise StackError(f"cannot list {folder}: {exc.strerror or exc}") from None
    files = []
    for f in sorted(found, key=lambda f: natural_key(f.name)):
        try:
            st = os.stat(f)
        except OSError:
            continue  # a dangling link is not an image
        if stat.S_ISDIR(st.st_mode):
            continue
        inside(folder, f, "image")
        if not stat.S_ISREG(st.st_mode):
            raise StackError(f"image {f} is {file_kind(st.st_mode)}, not a regular file: remove it")
        files.append(f)
    if not files:
        raise StackError(
            f"{folder} has no stack.json and no images ({', '.join(IMAGE_EXTENSIONS)}): "
            "give a stack folder or a folder of images"
        )
    meta = {
        "format": FORMAT,
        "name": folder.name,
        "kind": "z-sweep",
        "description": f"image folder {folder} (natural sort order, z = index)",
        "z_unit": "index",
        "frames": [{"file": f.name, "z": float(i)} for i, f in enumerate(files)],
        "truth": None,
    }
    return Stack(
        path=folder, meta=meta, files=files, z=np.arange(len(files), dtype=float), t=None, root=folder
    )


def _in_memory(path: Path, frames: list[np.ndarray], what: str, kind: str, t=None) -> Stack:
    shape0, dtype0 = frames[0].shape, frames[0].dtype
    for k, img in enumerate(frames):
        if img.shape != shape0 or img.dtype != dtype0:
            raise StackError(
                f"{what} {path} page/frame {k} is {img.shape} {img.dtype} but frame 0 is {shape0} {dtype0}: "
                "every frame of a stack must have the same size, channels and dtype"
            )
    n = len(frames)
    meta = {
        "format": FORMAT,
        "name": path.stem,
        "kind": kind,
        "description": f"{what} {path} (z = frame index)",
        "z_unit": "index",
        "frames": [{"file": path.name, "z": float(i)} for i in range(n)],
        "truth": None,
    }
    return Stack(path=path, meta=meta, files=[path] * n, z=np.arange(n, dtype=float), t=t, frames=frames)


def _load_tiff(path: Path) -> Stack:
    from .._files import read_regular

    try:
        data = read_regular(path, MAX_FRAME_BYTES)
    except (OSError, FileProblem) as exc:
        raise StackError(f"TIFF {path} cannot be read: {exc}") from None
    head = image_header(data)
    if head is None or head.format != "TIFF":
        raise StackError(f"TIFF {path} cannot be decoded: give a valid (multi-page) TIFF")
    if head.width <= 0 or head.height <= 0 or head.width * head.height > MAX_PIXELS:
        raise StackError(
            f"TIFF {path}: its header declares {head.width} x {head.height} pixels, outside "
            f"1..{MAX_PIXELS}: not decoded"
        )
    del data
    from ..ometiff import load_tiff  # multi-page and OME-TIFF through tifffile (z from OME metadata)

    return load_tiff(path)


def _load_video(path: Path) -> Stack:
    import cv2

    from ..sources._capture import open_capture  # OpenCV's and FFmpeg's own log lines silenced

    cap = open_capture(str(path))
    try:
        if not cap.isOpened():
            raise StackError(f"video {path} cannot be opened: give a video OpenCV can decode (e.g. AVI, MP4)")
        frames: list[np.ndarray] = []
        times: list[float] = []
        while True:
            ok, img = cap.read()
            if not ok or img is None:
                break
            times.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
            frames.append(normalise_pixels(img))
    finally:
        cap.release()
    if not frames:
        raise StackError(f"video {path} has no decodable frames: give a video OpenCV can decode")
    return _in_memory(path, frames, "video", "sequence", t=np.asarray(times, dtype=float))


def _suffix_in(suffixes: tuple[str, ...]) -> Matcher:
    return lambda p: p.suffix.lower() in suffixes


#: File readers tried in order by :func:`load_stack`: ``(match(path) -> bool, load(path) -> Stack)``.
FILE_READERS: list[tuple[Matcher, Reader]] = [
    (_suffix_in(TIFF_EXTENSIONS), _load_tiff),
    (_suffix_in(VIDEO_EXTENSIONS), _load_video),
]
