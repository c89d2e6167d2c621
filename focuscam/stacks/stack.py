"""The :class:`Stack` value: frames, their ``z`` and what is known about them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, StackError
from .format import FORMAT, check_frames, check_z, normalise_pixels
from .safety import ImageHeader, read_frame

__all__ = ["Stack"]

_CACHE_FRAMES = 8


class Stack:
    """An ordered focus stack: frames, their ``z`` positions and what is known about them.

    Create one with :func:`load_stack` (from disk) or :meth:`Stack.from_frames` (from arrays).

    Attributes
    ----------
    path : Path or None
        Where the stack was read from (a folder, a TIFF or a video); None for in-memory stacks.
    name : str
        Short name.
    kind : str
        ``"z-sweep"`` (frames at focus positions) or ``"sequence"`` (frames over time).
    z_unit : str or None
        Unit of every ``z`` and of ``truth["z"]``: ``"mm"``, ``"um"``, ``"step"``, ``"index"``
        or None (no positions known).
    z : ndarray of float64
        Focus position of every frame in ``z_unit``; NaN where unknown.
    t : ndarray of float64 or None
        Capture time of every frame in seconds (monotonic clock), NaN where unknown; None when
        no frame has one.
    truth : dict or None
        ``{"z": float, "tolerance": float, "basis": str}``: the known best focus in ``z_unit``.
    modality : str or None
        E.g. ``"brightfield"``: the in-focus plane is a contrast minimum between two maxima.
    meta : dict
        The whole stack.json content (or an equivalent description for folders, TIFF, video).
    files : list of Path
        The frame files of a stack folder or image folder; for a TIFF or video, the one file
        repeated for every frame; empty for in-memory stacks.
    """

    def __init__(
        self,
        *,
        path: Path | None,
        meta: dict[str, Any],
        files: list[Path],
        z: np.ndarray,
        t: np.ndarray | None,
        frames: list[np.ndarray] | None = None,
        root: Path | None = None,
    ) -> None:
        self.path = path
        self._root = root
        self.meta = meta
        self.name: str = meta.get("name") or (path.stem if path else "stack")
        self.kind: str = meta.get("kind", "z-sweep")
        self.z_unit: str | None = meta.get("z_unit")
        self.truth: dict[str, Any] | None = meta.get("truth")
        self.modality: str | None = meta.get("modality")
        self.files = files
        self.z = np.asarray(z, dtype=np.float64)
        self.t = None if t is None else np.asarray(t, dtype=np.float64)
        self._frames = frames
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._shape0: tuple[int, ...] | None = None
        self._dtype0: np.dtype | None = None
        self._header0: ImageHeader | None = None
        self._last_file: tuple[int, bytes] | None = None  # see file_bytes()
        if frames is not None and frames:
            self._shape0, self._dtype0 = frames[0].shape, frames[0].dtype

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        frames: Iterable[np.ndarray],
        z: Sequence[float] | np.ndarray | None = None,
        *,
        z_unit: str | None = None,
        name: str = "frames",
        kind: str = "z-sweep",
        truth: dict[str, Any] | None = None,
        modality: str | None = None,
    ) -> Stack:
        """Build an in-memory stack from 2-D gray or HxWx3 BGR arrays (all the same shape).

        Parameters
        ----------
        frames : iterable of ndarray
            The frames, in order.
        z : sequence of float, optional
            Focus position of every frame in ``z_unit``; default: the frame index.
        z_unit : str, optional
            Unit of ``z``; default ``"index"`` when ``z`` is None, else ``"um"``.
        """
        arrays = check_frames(frames, param="frames")
        z_arr, z_unit = check_z(z, len(arrays), z_unit)
        meta = {
            "format": FORMAT,
            "name": name,
            "kind": kind,
            "description": "in-memory frames",
            "z_unit": z_unit,
            "truth": truth,
        }
        if modality is not None:
            meta["modality"] = modality
        return cls(path=None, meta=meta, files=[], z=z_arr, t=None, frames=arrays)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.z)

    def __repr__(self) -> str:
        return (
            f"Stack(name={self.name!r}, kind={self.kind!r}, frames={len(self)}, "
            f"z_unit={self.z_unit!r}, path={str(self.path) if self.path else None!r})"
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of every frame (that of frame 0)."""
        if self._shape0 is None:
            self.image(0)
        assert self._shape0 is not None  # set by image(0)
        return self._shape0

    def image(self, i: int) -> np.ndarray:
        """Return frame ``i`` as an array (2-D gray or HxWx3 BGR; uint8, uint16 or float32).

        Frames of a stack folder are decoded on first use and kept in a small cache.

        Raises
        ------
        StackError
            When the file is missing, cannot be decoded, or has a shape other than frame 0's.
        IndexError
            When ``i`` is not a frame index.
        """
        n = len(self)
        if not isinstance(i, int | np.integer):
            raise InputError(f"frame index {i!r} is not an integer: give 0..{n - 1}")
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame index {i} is outside the stack's {n} frames")
        if self._frames is not None:
            return self._frames[i]
        cached = self._cache.get(i)
        if cached is not None:
            self._cache.move_to_end(i)
            return cached
        if self._shape0 is None and i != 0:
            self.image(0)
        pixels, header, data = read_frame(self.files[i], self._root, self._header0)
        img = normalise_pixels(pixels)
        if self._shape0 is None:
            self._shape0, self._dtype0, self._header0 = img.shape, img.dtype, header
        elif img.shape != self._shape0 or img.dtype != self._dtype0:
            raise StackError(
                f"frame file {self.files[i]} has shape {img.shape} {img.dtype} but frame 0 "
                f"({self.files[0].name}) has {self._shape0} {self._dtype0}: every frame of a stack "
                "must have the same size, channels and dtype"
            )
        self._cache[i] = img
        while len(self._cache) > _CACHE_FRAMES:
            self._cache.popitem(last=False)
        self._last_file = (i, data)
        return img

    def file_bytes(self, i: int) -> bytes | None:
        """The bytes of frame ``i``'s file when the last file :meth:`image` read was that one
        (frame ``i`` was just decoded from them), else None (nothing is read here)."""
        last = self._last_file
        return last[1] if last is not None and last[0] == i else None

    def images(self) -> Iterator[np.ndarray]:
        """Iterate over every frame in order (see :meth:`image`)."""
        for i in range(len(self)):
            yield self.image(i)
