"""Focus stacks on disk: the "focuscam-stack/1" format, image folders, multi-page TIFF and video.

A stack is an ordered list of frames with a focus position ``z`` per frame (in the stack's own
``z_unit``: ``"mm"``, ``"um"``, ``"step"``, ``"index"`` or ``None``), optional capture times and
an optional known best focus (``truth``). The format is defined in ``../shared/stacks/FORMAT.md``::

    <name>/
      stack.json      {"format": "focuscam-stack/1", "name", "kind", "description", "z_unit",
                       "frames": [{"file", "z", "t"?}, ...], "truth", "modality"?, ...}
      journal.ndjson  optional: frame entries appended by a recording still in progress
      frames/         one image per frame

- :func:`load_stack` (:mod:`.readers`) reads that format (stack.json and its journal), a plain
  folder of images (natural sort, ``z`` = index), a multi-page TIFF and a video file (``z`` =
  frame index); :func:`register_reader` adds a file reader. Frames of a folder decode lazily.
- :func:`save_stack` and :class:`StackWriter` (:mod:`.writer`) write the format, atomically or
  frame by frame with the journal, so a killed recording keeps every complete frame.
- :mod:`.safety` keeps reading hostile stacks safe: nothing outside the folder, only regular
  files, bounded sizes, image headers checked before any pixel is decoded.
- :mod:`.format` holds the stack.json rules shared by readers and writers.

Every problem reading is a :class:`~focuscam.errors.StackError` (an ``InputError``, so a
``ValueError``) whose one-line message names the file and the fix; a failed write (a full
disk) is a :class:`~focuscam.errors.StorageError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .format import FORMAT, IMAGE_EXTENSIONS, JOURNAL, KINDS, VIDEO_EXTENSIONS, Z_UNITS
from .readers import FILE_READERS, load_stack, register_reader
from .stack import Stack

if TYPE_CHECKING:
    from .writer import StackWriter, save_stack

__all__ = [
    "FILE_READERS",
    "FORMAT",
    "IMAGE_EXTENSIONS",
    "JOURNAL",
    "KINDS",
    "VIDEO_EXTENSIONS",
    "Z_UNITS",
    "Stack",
    "StackWriter",
    "load_stack",
    "register_reader",
    "save_stack",
]


def __getattr__(name: str) -> Any:
    """The writer on first use: a command that only reads stacks (``select``) does not import it."""
    if name in ("StackWriter", "save_stack"):
        from . import writer

        return getattr(writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
