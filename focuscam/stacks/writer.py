"""Writing stacks: :func:`save_stack` (all at once, atomically) and :class:`StackWriter`
(frame by frame, with the recording journal of FORMAT.md).

A :class:`StackWriter` writes each frame's PNG completely under a temporary name (``.part``),
lists it (frame 0 in ``stack.json``, every later frame as a line of ``journal.ndjson``) and then
renames it to its name: the rename commits the frame, so a PNG under its name is always listed.
A recording killed at any moment (even by SIGKILL) keeps every complete frame: readers take
stack.json's frames and then the journal's, and skip a last entry whose PNG is still a
``.part`` (killed between listing and renaming: not committed).
:meth:`StackWriter.close` folds the journal into stack.json and removes it. A full disk removes
the partial PNG (and any temporary stack.json), keeps every complete frame listed and raises
:class:`~focuscam.errors.StorageError` (exit code 3) saying how many frames are saved.

Neither writer ever deletes a file it did not write: :func:`save_stack` replaces an existing
stack folder only when it holds nothing but what focuscam writes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, StackError, StorageError
from ._replace import PART as _PART
from ._replace import foreign_names, make_dir_beside
from .format import FORMAT, JOURNAL, check_header, check_pixels, check_z, is_number

__all__ = ["StackWriter", "save_stack"]


def _encode_png(img: np.ndarray) -> bytes:
    import cv2

    # zlib level 1 with the run-length strategy: on camera frames (noisy, PNG-filtered rows) as
    # small as level 3's default strategy or smaller, and 1.5-2x faster (benchmarks/README.md)
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", img, params)
    if not ok:
        raise StackError(f"cannot encode a frame of shape {img.shape} dtype {img.dtype} as PNG")
    return buf.tobytes()


def _write_part(path: Path, data: bytes, *, suffix: str = _PART, sync: bool = False) -> Path:
    """Write ``data`` completely to ``path + suffix`` and return that path; on failure it is gone."""
    part = path.with_name(path.name + suffix)
    try:
        with open(part, "wb") as fh:
            fh.write(data)
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
    except BaseException:
        _unlink(part)
        raise
    return part


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _write_file(path: Path, data: bytes, *, suffix: str = _PART, sync: bool = False) -> None:
    """Write ``data`` to ``path + suffix`` and rename it to ``path``; no partial file is left."""
    part = _write_part(path, data, suffix=suffix, sync=sync)
    try:
        os.replace(part, path)
    except BaseException:
        _unlink(part)
        raise


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    _write_file(path, text.encode("utf-8"), suffix=".tmp", sync=True)


def _frame_name(i: int) -> str:
    return f"frames/{i:06d}.png"


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _check_same(arrays: list[np.ndarray], index: int | None = None) -> None:
    """Every frame has frames[0]'s shape and dtype (``index``: the number of ``arrays[-1]``)."""
    for k, img in enumerate(arrays):
        if img.shape != arrays[0].shape or img.dtype != arrays[0].dtype:
            k = k if index is None else index
            raise InputError(
                f"frames[{k}] is {img.shape} {img.dtype} but frames[0] is {arrays[0].shape} "
                f"{arrays[0].dtype}: every frame must have the same shape and dtype"
            )


def _check_counts(n: int, z_arr: np.ndarray | None, t_arr: np.ndarray | None) -> None:
    """One z and one t (when given) per frame."""
    if z_arr is not None and z_arr.shape != (n,):
        raise InputError(f"z has {z_arr.size} values for {n} frames: give one z per frame")
    if t_arr is not None and t_arr.shape != (n,):
        raise InputError(f"t has {t_arr.size} values for {n} frames: give one time per frame")


def save_stack(
    path: str | os.PathLike[str],
    frames: Iterable[Any],
    z: Sequence[float | None] | np.ndarray | None = None,
    *,
    z_unit: str | None = None,
    kind: str = "z-sweep",
    name: str | None = None,
    truth: dict[str, Any] | None = None,
    t: Sequence[float] | np.ndarray | None = None,
    description: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write frames as a "focuscam-stack/1" folder, atomically.

    The stack is written into a temporary sibling folder which is renamed to ``path`` only
    when complete, so a failure part-way (a bad frame, a full disk) leaves no half stack.

    Parameters
    ----------
    path : str or Path
        The stack folder to create. An empty folder, or a stack folder holding only what
        focuscam writes (stack.json, its listed frames), is replaced (keeping its permissions);
        any other existing path is refused and left untouched.
    frames : iterable of ndarray or Frame
        2-D gray or HxWx3 BGR, uint8 or uint16, all the same shape; saved as lossless PNG
        (16-bit kept bit-exact).
    z : sequence of float or None, optional
        Focus position of every frame in ``z_unit`` (None for unknown). Default: frame index.
    z_unit : str, optional
        ``"mm"``, ``"um"``, ``"step"``, ``"index"`` or None. Default ``"index"`` when ``z`` is None,
        else ``"um"``.
    kind : str
        ``"z-sweep"`` or ``"sequence"``.
    name : str, optional
        Short name; default the folder name.
    truth : dict, optional
        ``{"z": float, "tolerance": float, "basis": str}`` in ``z_unit``.
    t : sequence of float, optional
        Capture time of every frame in seconds (monotonic).
    description : str
        What the camera saw.
    extra : dict, optional
        More top-level stack.json keys (e.g. ``modality``, ``generator``, ``source``).

    Returns
    -------
    Path
        The stack folder.

    Raises
    ------
    InputError
        Bad frames or header values, or ``path`` holds files focuscam did not write.
    StorageError
        The disk refused the write (e.g. full); nothing changed at ``path``.
    """
    dest = Path(path)
    # frames may be an iterator (a generator rendering them): each is checked, encoded and
    # written as it comes, so memory holds one frame at a time; a bad one (or a count that
    # does not match z or t) removes what was written (nothing changes at ``path``)
    sized = hasattr(frames, "__len__")
    if sized and len(frames) == 0:  # type: ignore[arg-type]
        raise InputError("frames is empty: give at least one frame to save")
    if z is not None:
        z_arr, unit = check_z(z, len(z), z_unit)
    else:
        z_arr, unit = None, z_unit or "index"
    t_arr = None if t is None else np.asarray(t, dtype=np.float64)
    if sized:  # a list is checked whole before anything is written
        frames = [check_pixels(img, f"frames[{k}]") for k, img in enumerate(frames)]
        _check_same(frames)
        _check_counts(len(frames), z_arr, t_arr)
    name = name or dest.name
    check_header(name, kind, unit, truth, extra)
    replace = False
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise StackError(f"{dest} exists and is not a folder: choose another output path")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / "stack.json").is_file():
            raise StackError(
                f"{dest} exists and is not a stack folder: refusing to overwrite it; choose another path"
            )
        foreign = foreign_names(dest)
        if foreign:
            raise StackError(
                f"{dest} holds files focuscam did not write ({', '.join(foreign)}): refusing to replace "
                "it; choose another output folder"
            )
        replace = True
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "name": name,
        "kind": kind,
        "description": description,
        "z_unit": unit,
        "frames": [],
        "truth": None if truth is None else dict(truth),
    }
    meta.update(extra or {})
    tmp = make_dir_beside(dest, dest if dest.exists() else None)
    try:
        (tmp / "frames").mkdir()
        first: np.ndarray | None = None
        for k, frame in enumerate(frames):
            img = check_pixels(frame, f"frames[{k}]")
            first = img if first is None else first
            _check_same([first, img], k)
            rel = _frame_name(k)
            _write_file(tmp / rel, _encode_png(img))
            meta["frames"].append({"file": rel})
        n = len(meta["frames"])
        if n == 0:
            raise InputError("frames is empty: give at least one frame to save")
        _check_counts(n, z_arr, t_arr)
        z_arr = np.arange(n, dtype=float) if z_arr is None else z_arr
        for k, entry in enumerate(meta["frames"]):
            entry["z"] = _num(z_arr[k])
            if t_arr is not None and not math.isnan(t_arr[k]):
                entry["t"] = float(t_arr[k])
        _write_json_atomic(tmp / "stack.json", meta)
        if replace:
            old = make_dir_beside(dest, None)
            os.rename(dest, old / "stack")
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)  # only what focuscam wrote (checked above)
        else:
            if dest.exists():
                dest.rmdir()  # empty
            os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(f"cannot write stack {dest}: {exc.strerror or exc}; nothing was saved") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


class StackWriter:
    """Write a "focuscam-stack/1" folder frame by frame (recordings, autofocus sweeps).

    Every frame is written as a PNG as soon as it is appended (under a temporary name, renamed
    when complete). Frame 0 is listed in ``stack.json`` at once; each later frame's entry is
    appended to ``journal.ndjson`` right after its PNG is complete, so the stack on disk lists
    every complete frame at every moment, whatever ends the process (SIGKILL, power aside: the
    journal is synced to disk every ``flush_every`` frames). :meth:`close` folds the journal into
    stack.json. Used as a context manager it also closes when the with-block raises.

    Parameters
    ----------
    path : str or Path
        The stack folder to create; it must not exist or be an empty folder.
    name : str
        Short name stored in stack.json.
    kind : str
        ``"sequence"`` (default, frames over time) or ``"z-sweep"``.
    z_unit : str, optional
        Unit of the ``z`` given to :meth:`append`. Default: ``"um"`` once any frame has a z,
        else null.
    flush_every : int
        Sync the journal to the disk after this many new frames (>= 1).
    description : str
        What the camera saw.
    truth : dict, optional
        ``{"z": float, "tolerance": float, "basis": str}`` in ``z_unit``.
    extra : dict, optional
        More top-level stack.json keys (e.g. ``modality``, ``source``).

    Examples
    --------
    >>> with StackWriter("run1", name="run1", kind="z-sweep", z_unit="um") as w:  # doctest: +SKIP
    ...     for z, frame in sweep():
    ...         w.append(frame.pixels, z=z, t=frame.t)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str,
        kind: str = "sequence",
        z_unit: str | None = None,
        flush_every: int = 10,
        description: str = "",
        truth: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        check_header(name, kind, z_unit, truth, extra)
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise InputError(f"flush_every {flush_every!r} must be an integer >= 1")
        self.path = Path(path)
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise StackError(
                f"{self.path} already exists and is not empty: choose a new folder for the recording"
            )
        try:
            (self.path / "frames").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create stack folder {self.path}: {exc.strerror or exc}") from None
        self.name = name
        self.kind = kind
        self.z_unit = z_unit
        self.flush_every = flush_every
        self.description = description
        self.truth = None if truth is None else dict(truth)
        self.extra = dict(extra or {})
        self._entries: list[dict[str, Any]] = []
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._journal: int | None = None  # the journal's descriptor (O_APPEND)
        self._synced = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def append(self, frame_pixels: np.ndarray, *, z: float | None = None, t: float | None = None) -> int:
        """Write one frame and return its index.

        Parameters
        ----------
        frame_pixels : ndarray
            2-D gray or HxWx3 BGR, uint8 or uint16; the same shape and dtype as the first frame.
        z : float, optional
            Focus position in the writer's ``z_unit``.
        t : float, optional
            Capture time in seconds (monotonic clock).

        Raises
        ------
        InputError
            For a bad frame, z or t (nothing is written).
        StorageError
            When the frame cannot be written (e.g. a full disk): its partial file is removed,
            every frame before it stays listed, and the message says how many are saved.
        """
        if self._closed:
            raise StackError(f"StackWriter for {self.path} is closed: open a new one to record more")
        img = check_pixels(frame_pixels, "frame_pixels")
        if self._shape is None:
            self._shape, self._dtype = img.shape, img.dtype
        elif img.shape != self._shape or img.dtype != self._dtype:
            raise InputError(
                f"frame_pixels is {img.shape} {img.dtype} but this stack's frames are "
                f"{self._shape} {self._dtype}: every frame must have the same shape and dtype"
            )
        if z is not None and not is_number(z):
            raise InputError(f"z {z!r} must be a finite number (or None) in {self.z_unit or 'um'}")
        if t is not None and not is_number(t):
            raise InputError(f"t {t!r} must be a finite number of seconds (or None)")
        index = len(self._entries)
        rel = _frame_name(index)
        entry: dict[str, Any] = {"file": rel, "z": None if z is None else float(z)}
        if t is not None:
            entry["t"] = float(t)
        try:
            self._commit(rel, _encode_png(img), entry)
        except OSError as exc:
            raise StorageError(
                f"cannot write frame {index} to {self.path / rel}: {exc.strerror or exc}; {self._saved()}"
            ) from None
        self._entries.append(entry)
        if len(self._entries) - self._synced >= self.flush_every:
            self.flush()
        return index

    def _commit(self, rel: str, png: bytes, entry: dict[str, Any]) -> None:
        """Write frame ``rel``: its complete PNG as ``.part``, then its entry (stack.json for frame
        0, else a journal line), then the rename to its name, which commits it.

        So at no moment is a PNG under its name unlisted (a kill between the rename and the
        listing lost that frame, issue 12): a kill before the rename leaves the entry of a frame
        that is only a ``.part``, which readers skip as not committed (the last entry only).
        Any failure undoes the entry and removes the part file.
        """
        final = self.path / rel
        part = _write_part(final, png)
        undo: Any = None
        try:
            if not self._entries:
                _write_json_atomic(self.path / "stack.json", self._meta([entry]))
                undo = (self.path / "stack.json").unlink
            else:
                undo = functools.partial(os.ftruncate, self._journal, self._journal_append(entry))
            os.replace(part, final)
        except BaseException:
            if undo is not None:
                with contextlib.suppress(OSError):
                    undo()  # no entry without its frame
            _unlink(part)
            raise

    def _saved(self) -> str:
        n = len(self._entries)
        return f"{n} frames are saved in {self.path}" if n else f"no frame is saved in {self.path}"

    def _journal_append(self, entry: dict[str, Any]) -> int:
        """Append ``entry`` as one journal line; return the journal's length before it."""
        line = (json.dumps(entry, allow_nan=False) + "\n").encode("utf-8")
        if self._journal is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            self._journal = os.open(self.path / JOURNAL, flags, 0o666)
        fd = self._journal
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(28, os.strerror(28))  # a short write: the disk is full
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # no half line stays in the journal
            raise
        return start

    def _meta(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        unit = self.z_unit
        if unit is None and any(e["z"] is not None for e in entries):
            unit = "um"
        meta: dict[str, Any] = {
            "format": FORMAT,
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "z_unit": unit,
            "frames": list(entries),
            "truth": self.truth,
        }
        meta.update(self.extra)
        return meta

    def flush(self) -> None:
        """Sync the journal (every frame written so far) to the disk."""
        if self._journal is not None:
            try:
                os.fsync(self._journal)
            except OSError as exc:
                raise StorageError(
                    f"cannot sync {self.path / JOURNAL}: {exc.strerror or exc}; {self._saved()}"
                ) from None
        self._synced = len(self._entries)

    def close(self) -> None:
        """Fold the journal into stack.json and remove it; further appends are refused.

        Safe to call twice. When stack.json cannot be rewritten (a full disk) the journal stays:
        the stack is valid as it is and lists every frame. A writer closed without any frame
        writes no stack.json and removes its empty folder.
        """
        if self._closed:
            return
        self._closed = True
        if self._journal is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._journal)
            os.close(self._journal)
            self._journal = None
        if not self._entries:
            with contextlib.suppress(OSError):  # only empty folders we created; leftovers stay
                (self.path / "frames").rmdir()
                self.path.rmdir()
            return
        try:
            _write_json_atomic(self.path / "stack.json", self._meta(self._entries))
        except OSError:
            return  # stack.json (frame 0 and the header) + the journal still list every frame
        with contextlib.suppress(FileNotFoundError):
            (self.path / JOURNAL).unlink()

    def __enter__(self) -> StackWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
