"""Focus stacks on disk: the "focuscam-stack/1" format, image folders, multi-page TIFF and video.

A stack is an ordered list of frames with a focus position ``z`` per frame (in the stack's own
``z_unit``: ``"mm"``, ``"um"``, ``"step"``, ``"index"`` or ``None``), optional capture times and
an optional known best focus (``truth``). The format is defined in ``../shared/stacks/FORMAT.md``::

    <name>/
      stack.json      {"format": "focuscam-stack/1", "name", "kind", "description", "z_unit",
                       "frames": [{"file", "z", "t"?}, ...], "truth", "modality"?, ...}
      frames/         one image per frame

- :func:`load_stack` reads that format, a plain folder of images (natural sort, ``z`` = index),
  a multi-page TIFF and a video file (``z`` = frame index). Frames of a stack folder are decoded
  lazily (with a small cache); TIFF and video frames are decoded into memory at load time.
- :func:`save_stack` writes the format atomically: into a temporary sibling folder, then renamed.
- :class:`StackWriter` writes the format incrementally (recordings, autofocus sweeps): every
  frame is a PNG as it comes and ``stack.json`` is rewritten atomically every few frames and on
  close, so an interrupted recording is still a valid stack of the frames written so far.

Every problem is a :class:`~focuscam.errors.StackError` (an ``InputError``, so a ``ValueError``)
whose one-line message names the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, StackError

__all__ = [
    "FORMAT",
    "IMAGE_EXTENSIONS",
    "KINDS",
    "VIDEO_EXTENSIONS",
    "Z_UNITS",
    "Stack",
    "StackWriter",
    "load_stack",
    "save_stack",
]

#: The format string every stack.json carries.
FORMAT = "focuscam-stack/1"
#: Allowed values of ``kind``.
KINDS = ("z-sweep", "sequence")
#: Allowed values of ``z_unit``.
Z_UNITS = ("mm", "um", "step", "index", None)
#: File suffixes read as images in a plain image folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".webp")
#: File suffixes read as videos.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_TIFF_EXTENSIONS = (".tif", ".tiff")
_CACHE_FRAMES = 8
_RESERVED_KEYS = ("format", "name", "kind", "description", "z_unit", "frames", "truth")


def _natural_key(name: str) -> list[Any]:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _normalise_pixels(img: np.ndarray) -> np.ndarray:
    """Drop an alpha channel and a trailing singleton channel, so frames are 2-D or HxWx3."""
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    return img


def _decode_file(path: Path) -> np.ndarray:
    """Decode one image file like ``cv2.imread(path, IMREAD_UNCHANGED)``; StackError if it cannot."""
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise StackError(
            f"frame file {path} is missing: restore it or remove its entry from stack.json"
        ) from None
    except OSError as exc:
        raise StackError(f"cannot read frame file {path}: {exc.strerror or exc}") from None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise StackError(
            f"frame file {path} is not a readable image (empty or corrupt): "
            "replace it with a valid PNG, JPEG or TIFF"
        )
    return _normalise_pixels(img)


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
    ) -> None:
        self.path = path
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
        if frames is not None and frames:
            self._shape0 = frames[0].shape

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
        arrays = _check_frames(frames, param="frames")
        z_arr, z_unit = _check_z(z, len(arrays), z_unit)
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
        img = _decode_file(self.files[i])
        if self._shape0 is None:
            self._shape0 = img.shape
        elif img.shape != self._shape0:
            raise StackError(
                f"frame file {self.files[i]} has shape {img.shape} but frame 0 ({self.files[0].name}) "
                f"has {self._shape0}: every frame of a stack must have the same size and channels"
            )
        self._cache[i] = img
        while len(self._cache) > _CACHE_FRAMES:
            self._cache.popitem(last=False)
        return img

    def images(self) -> Iterator[np.ndarray]:
        """Iterate over every frame in order (see :meth:`image`)."""
        for i in range(len(self)):
            yield self.image(i)


# ---------------------------------------------------------------------- loading
def load_stack(path: str | os.PathLike[str]) -> Stack:
    """Read a focus stack from disk.

    Parameters
    ----------
    path : str or Path
        One of: a "focuscam-stack/1" folder (or its ``stack.json``); a plain folder of images
        (natural sort, so ``img2`` comes before ``img10``; ``z`` = index, ``z_unit`` ``"index"``);
        a multi-page TIFF; a video file (``z`` = frame index).

    Returns
    -------
    Stack

    Raises
    ------
    StackError
        With one line naming the file and the fix: a missing path, malformed or invalid
        stack.json, missing frame files, an empty folder, an unreadable TIFF or video.
    """
    p = Path(path)
    if not p.exists():
        raise StackError(f"stack {p} does not exist: give a stack folder, an image folder, a TIFF or a video")
    if p.is_file() and p.name == "stack.json":
        return _load_format(p.parent)
    if p.is_dir():
        if (p / "stack.json").is_file():
            return _load_format(p)
        return _load_image_folder(p)
    suffix = p.suffix.lower()
    if suffix in _TIFF_EXTENSIONS:
        return _load_tiff(p)
    if suffix in VIDEO_EXTENSIONS:
        return _load_video(p)
    raise StackError(
        f"{p} is not a stack: give a stack folder, an image folder, a multi-page TIFF "
        f"({', '.join(_TIFF_EXTENSIONS)}) or a video ({', '.join(VIDEO_EXTENSIONS)})"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _load_format(folder: Path) -> Stack:
    jpath = folder / "stack.json"
    fix = f"fix it to follow {FORMAT} (see FORMAT.md)"
    try:
        text = jpath.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StackError(f"cannot read {jpath}: {exc}") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackError(
            f"{jpath} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): {fix}"
        ) from None
    if not isinstance(meta, dict):
        raise StackError(f"{jpath} must hold a JSON object, not {type(meta).__name__}: {fix}")
    for key in ("format", "name", "kind", "z_unit", "frames"):
        if key not in meta:
            raise StackError(f"{jpath} has no {key!r} key: {fix}")
    if meta["format"] != FORMAT:
        raise StackError(f"{jpath} has format {meta['format']!r}, expected {FORMAT!r}: {fix}")

    def bad(key: str, want: str) -> StackError:
        return StackError(f"{jpath}: {key!r} must be {want}, not {meta_repr(key)}: {fix}")

    def meta_repr(key: str) -> str:
        return json.dumps(meta.get(key))[:60]

    if not isinstance(meta["name"], str):
        raise bad("name", "a string")
    if meta["kind"] not in KINDS:
        raise bad("kind", " or ".join(repr(k) for k in KINDS))
    if meta["z_unit"] not in Z_UNITS:
        raise bad("z_unit", '"mm", "um", "step", "index" or null')
    if not isinstance(meta.get("description", ""), str):
        raise bad("description", "a string")
    if meta.get("modality") is not None and not isinstance(meta["modality"], str):
        raise bad("modality", "a string")
    truth = meta.get("truth")
    if truth is not None:
        if (
            not isinstance(truth, dict)
            or not _is_number(truth.get("z"))
            or not _is_number(truth.get("tolerance"))
            or truth["tolerance"] < 0
            or not isinstance(truth.get("basis", ""), str)
        ):
            raise bad("truth", 'null or {"z": number, "tolerance": number >= 0, "basis": string}')
    entries = meta["frames"]
    if not isinstance(entries, list) or not entries:
        raise bad("frames", 'a non-empty list of {"file": string, "z": number or null}')
    files: list[Path] = []
    z = np.full(len(entries), np.nan)
    t = np.full(len(entries), np.nan)
    for k, entry in enumerate(entries):
        where = f"{jpath}: frames[{k}]"
        if not isinstance(entry, dict):
            raise StackError(f'{where} must be {{"file": string, "z": number or null}}: {fix}')
        if "file" not in entry or "z" not in entry:
            missing = "file" if "file" not in entry else "z"
            raise StackError(f"{where} has no {missing!r} key: {fix}")
        name = entry["file"]
        if not isinstance(name, str) or not name or os.path.isabs(name):
            raise StackError(f"{where}: 'file' must be a path relative to the stack folder: {fix}")
        zk = entry["z"]
        if zk is not None and not _is_number(zk):
            raise StackError(f"{where}: 'z' must be a finite number or null, not {json.dumps(zk)}: {fix}")
        tk = entry.get("t")
        if tk is not None and not _is_number(tk):
            raise StackError(
                f"{where}: 't' must be a number of seconds or absent, not {json.dumps(tk)}: {fix}"
            )
        fpath = folder / name
        if os.path.normpath(name).split(os.sep)[0] == os.pardir:  # symlinks inside are fine
            raise StackError(f"{where}: 'file' {name!r} points outside the stack folder: {fix}")
        if not fpath.is_file():
            raise StackError(
                f"frame file {fpath} (listed in {jpath}) is missing: restore it or remove its entry"
            )
        files.append(fpath)
        if zk is not None:
            z[k] = float(zk)
        if tk is not None:
            t[k] = float(tk)
    return Stack(
        path=folder,
        meta=meta,
        files=files,
        z=z,
        t=None if np.all(np.isnan(t)) else t,
    )


def _load_image_folder(folder: Path) -> Stack:
    files = sorted(
        (f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda f: _natural_key(f.name),
    )
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
    return Stack(path=folder, meta=meta, files=files, z=np.arange(len(files), dtype=float), t=None)


def _in_memory(path: Path, frames: list[np.ndarray], what: str, kind: str, t=None) -> Stack:
    shape0 = frames[0].shape
    for k, img in enumerate(frames):
        if img.shape != shape0:
            raise StackError(
                f"{what} {path} page/frame {k} has shape {img.shape} but frame 0 has {shape0}: "
                "every frame of a stack must have the same size and channels"
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
    from .ometiff import load_tiff  # multi-page and OME-TIFF through tifffile (z from OME metadata)

    return load_tiff(path)


def _load_video(path: Path) -> Stack:
    import cv2

    from .sources.camera import open_capture  # OpenCV's and FFmpeg's own log lines silenced

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
            frames.append(_normalise_pixels(img))
    finally:
        cap.release()
    if not frames:
        raise StackError(f"video {path} has no decodable frames: give a video OpenCV can decode")
    return _in_memory(path, frames, "video", "sequence", t=np.asarray(times, dtype=float))


# ---------------------------------------------------------------------- writing
def _check_pixels(img: Any, param: str) -> np.ndarray:
    if hasattr(img, "pixels") and not isinstance(img, np.ndarray):
        img = img.pixels
    if not isinstance(img, np.ndarray):
        raise InputError(f"{param} must be a numpy array, not {type(img).__name__}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise InputError(f"{param} has shape {img.shape}: give a 2-D gray or HxWx3 BGR image")
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"{param} has dtype {img.dtype}: stacks are saved as lossless PNG, give uint8 or uint16 frames"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise InputError(f"{param} is empty (shape {img.shape}): give a non-empty image")
    return img


def _check_frames(frames: Iterable[Any], param: str) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim not in (3, 4):
            raise InputError(
                f"{param} has shape {frames.shape}: give a list of frames or an array N x H x W (x 3)"
            )
        frames = list(frames)
    arrays: list[np.ndarray] = []
    for k, img in enumerate(frames):
        if hasattr(img, "pixels") and not isinstance(img, np.ndarray):
            img = img.pixels
        if not isinstance(img, np.ndarray):
            raise InputError(f"{param}[{k}] must be a numpy array, not {type(img).__name__}")
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise InputError(f"{param}[{k}] has shape {img.shape}: give 2-D gray or HxWx3 BGR frames")
        if img.dtype not in (np.uint8, np.uint16, np.float32):
            raise InputError(f"{param}[{k}] has dtype {img.dtype}: give uint8, uint16 or float32 frames")
        if arrays and img.shape != arrays[0].shape:
            raise InputError(
                f"{param}[{k}] has shape {img.shape} but {param}[0] has {arrays[0].shape}: "
                "every frame must have the same size and channels"
            )
        arrays.append(img)
    if not arrays:
        raise InputError(f"{param} is empty: give at least one frame")
    return arrays


def _check_z(z: Any, n: int, z_unit: str | None) -> tuple[np.ndarray, str | None]:
    if z is None:
        return np.arange(n, dtype=float), z_unit or "index"
    try:
        z_arr = np.array([np.nan if v is None else v for v in z], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("z must be a sequence of numbers (or None for unknown) in z_unit") from None
    if z_arr.shape != (n,):
        raise InputError(f"z has {z_arr.size} values for {n} frames: give one z per frame")
    if np.any(np.isinf(z_arr)):
        raise InputError("z holds an infinite value: give finite positions (or None for unknown)")
    unit = "um" if z_unit is None else z_unit
    if unit not in Z_UNITS:
        raise InputError(f"z_unit {z_unit!r} is not one of 'mm', 'um', 'step', 'index' or None")
    return z_arr, unit


def _check_header(name: Any, kind: Any, z_unit: Any, truth: Any, extra: Any) -> None:
    if not isinstance(name, str) or not name:
        raise InputError(f"name {name!r} must be a non-empty string")
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} must be 'z-sweep' or 'sequence'")
    if z_unit not in Z_UNITS:
        raise InputError(f"z_unit {z_unit!r} must be 'mm', 'um', 'step', 'index' or None")
    if truth is not None and (
        not isinstance(truth, dict)
        or not _is_number(truth.get("z"))
        or not _is_number(truth.get("tolerance"))
    ):
        raise InputError('truth must be None or {"z": number, "tolerance": number, "basis": str}')
    if extra is not None:
        if not isinstance(extra, dict):
            raise InputError("extra must be a dict of additional stack.json keys")
        clash = sorted(set(extra) & set(_RESERVED_KEYS))
        if clash:
            raise InputError(f"extra may not set {clash}: pass them as save_stack arguments")


def _encode_png(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise StackError(f"cannot encode a frame of shape {img.shape} dtype {img.dtype} as PNG")
    return buf.tobytes()


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _frame_name(i: int) -> str:
    return f"frames/{i:06d}.png"


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


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
        The stack folder to create. An existing stack folder (one with a stack.json) or an empty
        folder is replaced; any other existing path is refused.
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
    """
    dest = Path(path)
    arrays = [_check_pixels(img, f"frames[{k}]") for k, img in enumerate(frames)]
    if not arrays:
        raise InputError("frames is empty: give at least one frame to save")
    for k, img in enumerate(arrays):
        if img.shape != arrays[0].shape or img.dtype != arrays[0].dtype:
            raise InputError(
                f"frames[{k}] is {img.shape} {img.dtype} but frames[0] is {arrays[0].shape} "
                f"{arrays[0].dtype}: every frame must have the same shape and dtype"
            )
    z_arr, unit = _check_z(z, len(arrays), z_unit)
    if t is not None:
        t_arr = np.asarray(t, dtype=np.float64)
        if t_arr.shape != (len(arrays),):
            raise InputError(f"t has {t_arr.size} values for {len(arrays)} frames: give one time per frame")
    else:
        t_arr = None
    name = name or dest.name
    _check_header(name, kind, unit, truth, extra)
    if dest.exists():
        if not dest.is_dir():
            raise StackError(f"{dest} exists and is not a folder: choose another output path")
        if any(dest.iterdir()) and not (dest / "stack.json").is_file():
            raise StackError(
                f"{dest} exists and is not a stack folder: refusing to overwrite it; choose another path"
            )
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        (tmp / "frames").mkdir()
        for k, img in enumerate(arrays):
            rel = _frame_name(k)
            (tmp / rel).write_bytes(_encode_png(img))
            entry: dict[str, Any] = {"file": rel, "z": _num(z_arr[k])}
            if t_arr is not None and not math.isnan(t_arr[k]):
                entry["t"] = float(t_arr[k])
            meta["frames"].append(entry)
        _write_json_atomic(tmp / "stack.json", meta)
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.rename(dest, old / "stack")
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StackError(f"cannot write stack {dest}: {exc.strerror or exc}; nothing was saved") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


class StackWriter:
    """Write a "focuscam-stack/1" folder frame by frame (recordings, autofocus sweeps).

    Every frame is written as a PNG as soon as it is appended; ``stack.json`` (listing every
    frame written so far) is rewritten atomically (temporary file + ``os.replace``) every
    ``flush_every`` frames and on :meth:`close`. Used as a context manager it also closes (and
    so flushes) when the with-block raises, without hiding that exception. So a crash, a Ctrl-C
    or a full disk leaves a valid stack holding every frame written up to the last flush
    (and all of them after a close).

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
        Rewrite stack.json after this many new frames (>= 1).
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
        _check_header(name, kind, z_unit, truth, extra)
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
            raise StackError(f"cannot create stack folder {self.path}: {exc.strerror or exc}") from None
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
        self._flushed = 0
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
        StackError
            When the frame or stack.json cannot be written (e.g. a full disk); the message says
            how many frames the stack on disk holds.
        """
        if self._closed:
            raise StackError(f"StackWriter for {self.path} is closed: open a new one to record more")
        img = _check_pixels(frame_pixels, "frame_pixels")
        if self._shape is None:
            self._shape, self._dtype = img.shape, img.dtype
        elif img.shape != self._shape or img.dtype != self._dtype:
            raise InputError(
                f"frame_pixels is {img.shape} {img.dtype} but this stack's frames are "
                f"{self._shape} {self._dtype}: every frame must have the same shape and dtype"
            )
        if z is not None and not _is_number(z):
            raise InputError(f"z {z!r} must be a finite number (or None) in {self.z_unit or 'um'}")
        if t is not None and not _is_number(t):
            raise InputError(f"t {t!r} must be a finite number of seconds (or None)")
        index = len(self._entries)
        rel = _frame_name(index)
        try:
            (self.path / rel).write_bytes(_encode_png(img))
        except OSError as exc:
            saved = self._flush_after_error()
            raise StackError(
                f"cannot write frame {index} to {self.path / rel}: {exc.strerror or exc}; "
                f"{saved} frames are saved in {self.path}"
            ) from None
        entry: dict[str, Any] = {"file": rel, "z": None if z is None else float(z)}
        if t is not None:
            entry["t"] = float(t)
        self._entries.append(entry)
        if index == 0 or len(self._entries) - self._flushed >= self.flush_every:
            self.flush()
        return index

    def _meta(self) -> dict[str, Any]:
        unit = self.z_unit
        if unit is None and any(e["z"] is not None for e in self._entries):
            unit = "um"
        meta: dict[str, Any] = {
            "format": FORMAT,
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "z_unit": unit,
            "frames": list(self._entries),
            "truth": self.truth,
        }
        meta.update(self.extra)
        return meta

    def flush(self) -> None:
        """Rewrite stack.json atomically so it lists every frame written so far.

        stack.json is first written with the first frame (a stack needs at least one frame).
        """
        try:
            _write_json_atomic(self.path / "stack.json", self._meta())
        except OSError as exc:
            raise StackError(
                f"cannot update {self.path / 'stack.json'}: {exc.strerror or exc}; "
                f"the stack on disk holds the first {self._flushed} frames"
            ) from None
        self._flushed = len(self._entries)

    def _flush_after_error(self) -> int:
        try:
            self.flush()
        except StackError:
            return self._flushed
        return self._flushed

    def close(self) -> None:
        """Flush stack.json a last time; further appends are refused. Safe to call twice.

        A writer closed without any frame writes no stack.json and removes its empty folder.
        """
        if self._closed:
            return
        self._closed = True
        if not self._entries:
            with contextlib.suppress(OSError):  # only empty folders we created; leftovers stay
                (self.path / "frames").rmdir()
                self.path.rmdir()
            return
        self.flush()

    def __enter__(self) -> StackWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
