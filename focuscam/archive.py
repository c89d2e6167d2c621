"""The stacks of an archive: finding them (:func:`find_stacks`) and reading them frame by frame.

:func:`find_stacks` turns the paths a user gives (stack folders, image folders, multi-page TIFF
or video files, and archive folders holding any of those) into a list of stacks;
:func:`open_stack` is :func:`~focuscam.load_stack` except that a plain multi-page TIFF is read
page by page, so a worker of a batch holds a few frames, not the whole stack.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import InputError, StackError
from .stacks import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, Stack, load_stack
from .stacks.format import natural_key as _natural_key
from .stacks.format import normalise_pixels as _normalise_pixels

__all__ = ["find_stacks", "open_stack"]

_STACK_FILES = (".tif", ".tiff", *VIDEO_EXTENSIONS)


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def _tiff_pages(path: Path) -> int:
    """Pages of a TIFF (0 when it is not one: checked by its magic first, so OpenCV logs nothing)."""
    import cv2

    try:
        with open(path, "rb") as fh:
            if fh.read(4) not in _TIFF_MAGIC:
                return 0
    except OSError:
        return 0
    try:
        return int(cv2.imcount(str(path), cv2.IMREAD_UNCHANGED))
    except cv2.error:
        return 0


def _is_stack_dir(folder: Path) -> bool:
    """A stack folder (stack.json), or an image folder: images directly inside, no sub-folders,
    and not multi-page TIFFs (a folder of those is an archive of TIFF stacks)."""
    if (folder / "stack.json").is_file():
        return True
    try:
        entries = [e for e in folder.iterdir() if not e.name.startswith(".")]
    except OSError:
        return False
    if any(e.is_dir() for e in entries):
        return False
    images = [e for e in entries if e.suffix.lower() in IMAGE_EXTENSIONS]
    tiffs = (e for e in images if e.suffix.lower() in (".tif", ".tiff"))
    return bool(images) and not any(_tiff_pages(t) > 1 for t in tiffs)


def _walk_archive(root: Path) -> Iterator[Path]:
    """Stacks below an archive folder, in natural order; hidden entries are skipped."""
    try:
        entries = sorted(root.iterdir(), key=lambda p: _natural_key(p.name))
    except OSError as exc:
        raise InputError(f"cannot list {root}: {exc.strerror or exc}") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if _is_stack_dir(entry):
                yield entry
            else:
                yield from _walk_archive(entry)
        elif entry.suffix.lower() in _STACK_FILES and entry.is_file():
            yield entry


def find_stacks(paths: Iterable[str | os.PathLike[str]], glob: str | None = None) -> list[Path]:
    """The stacks that ``paths`` name, each once, in the order given (archives in natural order).

    Parameters
    ----------
    paths : iterable of str or Path
        Each is a stack (stack folder or its stack.json, image folder, multi-page TIFF, video)
        or an archive folder: a folder without stack.json and without images of its own, whose
        stacks (at any depth) are taken in natural order. A path that does not exist is kept
        (its :class:`StackResult` reports the error).
    glob : str or None
        With a pattern (``Path.glob`` syntax, e.g. ``"*.tif"`` or ``"plate*/*/stack.json"``),
        every folder in ``paths`` is searched with it instead, and every match is a stack (a
        matching ``stack.json`` stands for its folder; hidden entries are skipped, as a shell does).

    Returns
    -------
    list of Path

    Raises
    ------
    InputError
        When ``glob`` is empty or absolute.
    """
    if glob is not None and (not glob or os.path.isabs(glob)):
        raise InputError(f"--glob {glob!r} must be a relative pattern, e.g. --glob '*.tif'")
    found: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        if p.name == "stack.json":
            p = p.parent
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            found.append(p)

    for raw in paths:
        p = Path(raw)
        if not p.is_dir() or p.name == "stack.json":
            add(p)
        elif glob is not None:
            for match in sorted(p.glob(glob), key=lambda m: _natural_key(str(m))):
                if not any(part.startswith(".") for part in match.relative_to(p).parts):
                    add(match)
        elif _is_stack_dir(p):
            add(p)
        else:
            for stack in _walk_archive(p):
                add(stack)
    return found


# ---------------------------------------------------------------------- reading on the worker
class _TiffPages(Sequence[np.ndarray]):
    """The pages of a multi-page TIFF, decoded one at a time (the last one is kept)."""

    def __init__(self, path: Path, n: int) -> None:
        self.path = path
        self.n = n
        self._last: tuple[int, np.ndarray] | None = None
        self._shape0: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:  # type: ignore[override]
        import cv2

        if self._last is not None and self._last[0] == i:
            return self._last[1]
        try:
            ok, pages = cv2.imreadmulti(str(self.path), i, 1, flags=cv2.IMREAD_UNCHANGED)
        except cv2.error:
            ok, pages = False, []
        if not ok or not pages:
            raise StackError(f"TIFF {self.path} page {i} cannot be decoded: give a valid (multi-page) TIFF")
        img = _normalise_pixels(pages[0])
        if self._shape0 is None:
            self._shape0 = img.shape
        elif img.shape != self._shape0:
            raise StackError(
                f"TIFF {self.path} page/frame {i} has shape {img.shape} but frame 0 has {self._shape0}: "
                "every frame of a stack must have the same size and channels"
            )
        self._last = (i, img)
        return img


def open_stack(path: str | os.PathLike[str]) -> Stack:
    """:func:`~focuscam.load_stack`, except that a plain multi-page TIFF is read page by page.

    OME-TIFF (``.ome.tif``) and everything else go through :func:`~focuscam.load_stack`.
    """
    p = Path(path)
    name = p.name.lower()
    if not (p.is_file() and name.endswith((".tif", ".tiff")) and ".ome." not in name):
        return load_stack(p)
    n = _tiff_pages(p)
    if n < 1:
        raise StackError(f"TIFF {p} cannot be decoded: give a valid (multi-page) TIFF")
    meta = {
        "format": "focuscam-stack/1",
        "name": p.stem,
        "kind": "z-sweep",
        "description": f"TIFF {p} (z = frame index)",
        "z_unit": "index",
        "frames": [{"file": p.name, "z": float(i)} for i in range(n)],
        "truth": None,
    }
    pages = _TiffPages(p, n)
    return Stack(path=p, meta=meta, files=[p] * n, z=np.arange(n, dtype=float), t=None, frames=pages)  # type: ignore[arg-type]
