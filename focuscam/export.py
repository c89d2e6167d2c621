"""``--export-best``: the selected plane of every stack as an image file, with a CSV index.

Every plane keeps its pixels as they were read: 8-bit and 16-bit frames (gray or BGR) are
written as PNG (16-bit PNG keeps all 16 bits), float32 frames as TIFF. File names come from the
stack's path relative to the batch's common folder (``plate1/A01/f1`` -> ``plate1__A01__f1.png``),
so they are stable across a resumed batch. Files are written atomically (a temporary file, then
renamed), so a killed batch leaves no half-written image.

``index.csv`` in the same folder lists one row per exported plane (:data:`CSV_COLUMNS`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["CSV_COLUMNS", "INDEX_NAME", "csv_row", "export_stems", "prepare_dir", "write_plane"]

#: The CSV index written beside the planes.
INDEX_NAME = "index.csv"
#: Its columns: the export file, the stack, the plane and how sure the selection is.
CSV_COLUMNS = ("file", "path", "name", "index", "z", "z_unit", "state", "confidence", "measure")


def prepare_dir(folder: str | os.PathLike[str]) -> Path:
    """Create the export folder (and its parents) if needed; InputError if it cannot be."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise InputError(f"--export-best {p} is a file: give a folder (it is created if missing)")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--export-best {p} cannot be created: {exc.strerror or exc}") from None
    if not os.access(p, os.W_OK):
        raise InputError(f"--export-best {p} is not writable: give a folder you can write to")
    return p


def export_stems(paths: Sequence[str]) -> dict[str, str]:
    """A unique, file-system-safe file stem for every stack path (stable for the same list)."""
    absolute = [os.path.abspath(p) for p in paths]
    if not absolute:
        return {}
    root = os.path.commonpath(absolute) if len(absolute) > 1 else os.path.dirname(absolute[0])
    stems: dict[str, str] = {}
    used: set[str] = set()
    for shown, full in zip(paths, absolute, strict=True):
        rel = os.path.relpath(full, root)
        if rel == ".":
            rel = os.path.basename(full)
        base, ext = os.path.splitext(rel)
        if ext.lower() in (".tif", ".tiff") or os.path.isfile(full):
            rel = base
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.replace(os.sep, "__")).strip("._") or "stack"
        unique, k = stem, 2
        while unique in used:
            unique, k = f"{stem}-{k}", k + 1
        used.add(unique)
        stems[shown] = unique
    return stems


def write_plane(img: np.ndarray, folder: str | os.PathLike[str], stem: str) -> str:
    """Write one plane into ``folder`` as ``stem.png`` (uint8/uint16) or ``stem.tif`` (float).

    Returns
    -------
    str
        The file name written (inside ``folder``).
    """
    import cv2

    ext = ".png" if img.dtype in (np.uint8, np.uint16) else ".tif"
    ok, data = cv2.imencode(ext, img)
    if not ok:
        raise InputError(f"the plane of {stem} ({img.dtype}, {img.shape}) cannot be encoded as {ext}")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=ext, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
        os.replace(tmp, os.path.join(folder, stem + ext))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return stem + ext


def csv_row(record: dict) -> list[str]:
    """The index.csv row of one result line (see :data:`CSV_COLUMNS`)."""

    def text(v: object) -> str:
        return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)

    return [text(record.get(c)) for c in CSV_COLUMNS]
