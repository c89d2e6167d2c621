"""OME-TIFF and multi-page TIFF stacks through tifffile: read with z from the OME metadata, write
valid OME-TIFF (z per plane, times, focus scores as annotations) that Fiji, napari and
Bio-Formats open.

Reading (:func:`load_tiff`, used by :func:`focuscam.stacks.load_stack` for ``.tif``/``.tiff``):

- z per plane from the OME ``Plane`` elements (``PositionZ`` with ``PositionZUnit``), else
  ``PhysicalSizeZ`` x plane index (``PhysicalSizeZUnit``, OME's default um), else the index;
  nm, um, mm, cm and m become um (mm stays mm); other units fall back to the index;
- 8- and 16-bit kept (float32 too; other depths become float32); RGB becomes BGR;
- the frames are the Z planes (kind ``z-sweep``); a file with only a time axis is a
  ``sequence`` over T; several channels, or time points *and* z planes, are never mixed:
  ``channel`` / ``time`` must choose one (``focuscam select --channel C --time T``);
- annotations written by focuscam (truth, scores, kind, unit) come back.
A TIFF without OME metadata is read page by page (z = page index), as before.

Writing (:class:`OmeTiffWriter`, chosen by :func:`open_writer` for ``--format ome-tiff`` or a
``.ome.tif``/``.ome.tiff`` path): each frame goes to ``NAME.partial.tif`` (a plain multi-page
TIFF, so an interrupted recording keeps every frame written) as it comes; :meth:`close` writes
the OME-TIFF from it plane by plane (bounded memory) and removes it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, StackError

__all__ = ["OME_SUFFIXES", "OmeTiffWriter", "is_ome_path", "load_tiff", "open_writer"]

#: Path endings that mean OME-TIFF.
OME_SUFFIXES = (".ome.tif", ".ome.tiff")
#: The namespace of focuscam's MapAnnotation.
NAMESPACE = "focuscam"
#: Largest stack (bytes of pixels) read into memory.
MAX_BYTES = 8 << 30

_UM_PER = {"nm": 1e-3, "µm": 1.0, "um": 1.0, "μm": 1.0, "micron": 1.0, "cm": 1e4, "m": 1e6}
_S_PER = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0, "h": 3600.0}


def is_ome_path(path: str | os.PathLike[str]) -> bool:
    """True for a path ending in ``.ome.tif`` or ``.ome.tiff`` (any case)."""
    return str(path).lower().endswith(OME_SUFFIXES)


# ---------------------------------------------------------------------- reading
def _pixels(img: np.ndarray) -> np.ndarray:
    """focuscam pixels from a plane: RGB(A) to BGR, a singleton sample axis dropped, depths kept."""
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        elif img.shape[2] in (3, 4):
            img = img[:, :, 2::-1]
        else:
            raise StackError(f"a plane has {img.shape[2]} samples per pixel: focuscam reads gray or RGB")
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        img = img.astype(np.float32)
    return np.ascontiguousarray(img)


def _z_from_unit(values: list[float], unit: str | None) -> tuple[list[float], str] | None:
    unit = (unit or "µm").strip()
    if unit == "reference frame":  # OME's "no physical unit": steps or indices
        return values, "index"
    if unit == "mm":
        return values, "mm"
    if unit in _UM_PER:
        return [v * _UM_PER[unit] for v in values], "um"
    return None


def _pick(name: str, value: int | None, size: int, flag: str, path: Path) -> int:
    if value is None:
        if size > 1:
            raise StackError(
                f"{path} has {size} {name}s: choose one with {flag} 0..{size - 1} (they are not mixed)"
            )
        return 0
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < size:
        raise StackError(f"{flag} {value!r} is not a {name} of {path}: give 0..{size - 1}")
    return int(value)


def load_tiff(path: str | os.PathLike[str], *, channel: int | None = None, time: int | None = None):
    """Read a (multi-page or OME) TIFF as a :class:`~focuscam.stacks.Stack`.

    Parameters
    ----------
    path : str or Path
        The TIFF.
    channel, time : int, optional
        The channel (C) and time point (T) to read; required when the file has several.

    Raises
    ------
    StackError
        An unreadable file, several channels or time points without a choice, a choice out
        of range, frames of different shapes, a file too large for memory.
    """
    import tifffile

    p = Path(path)
    try:
        with tifffile.TiffFile(p) as tf:
            if tf.is_ome and tf.ome_metadata:
                return _load_ome(tf, p, channel, time)
            if channel not in (None, 0) or time not in (None, 0):
                raise StackError(f"{p} has no OME channels or time points: drop --channel/--time")
            pages = [_pixels(page.asarray()) for page in tf.pages]
    except StackError:
        raise
    except Exception as exc:  # tifffile raises TiffFileError, ValueError, OSError, ...
        pages = _opencv_pages(p)  # e.g. LZW pages without imagecodecs: OpenCV decodes those
        if pages is None:
            raise StackError(
                f"TIFF {p} cannot be decoded ({exc}): give a valid (multi-page) TIFF "
                f"(compressed OME-TIFF needs: pip install imagecodecs)"
            ) from None
    if not pages:
        raise StackError(f"TIFF {p} has no pages: give a valid (multi-page) TIFF")
    return _stack(p, pages, list(range(len(pages))), "index", None, "z-sweep", {}, "TIFF (z = page index)")


def _opencv_pages(p: Path) -> list[np.ndarray] | None:
    import cv2

    try:
        ok, pages = cv2.imreadmulti(str(p), flags=cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    if not ok or not pages:
        return None
    # OpenCV already gives BGR; only drop alpha / singleton channels and odd depths
    return [_pixels(img[:, :, 2::-1] if img.ndim == 3 and img.shape[2] in (3, 4) else img) for img in pages]


def _load_ome(tf: Any, p: Path, channel: int | None, time: int | None):
    root = ET.fromstring(tf.ome_metadata)
    ns = {"ome": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
    q = (lambda tag: f"ome:{tag}") if ns else (lambda tag: tag)
    image = root.find(q("Image"), ns)
    pix = image.find(q("Pixels"), ns) if image is not None else None
    if pix is None:
        raise StackError(f"{p} has OME metadata without Image/Pixels: give a valid OME-TIFF")
    series = tf.series[0]
    axes, shape = series.axes, series.shape
    sizes = dict(zip(axes, shape, strict=True))
    n_c, n_t, n_z = sizes.get("C", 1), sizes.get("T", 1), sizes.get("Z", 1)
    time_frames = n_z == 1 and n_t > 1  # a recording over time: the frames are the time points
    c = _pick("channel", channel, n_c, "--channel", p)
    t = 0 if time_frames and time is None else _pick("time point", time, n_t, "--time", p)
    if series.size * series.dtype.itemsize > MAX_BYTES:
        raise StackError(f"{p} holds more than {MAX_BYTES >> 30} GiB of pixels: split it into smaller stacks")
    data = series.asarray()
    frame_axis = "T" if time_frames else "Z"
    index: list[Any] = []
    for ax in axes:
        if ax == frame_axis or ax in "YXS":
            index.append(slice(None))
        elif ax in "CTZ":
            index.append({"C": c, "T": t, "Z": 0}[ax])
        elif sizes[ax] == 1:
            index.append(0)
        else:
            raise StackError(f"{p} has a {sizes[ax]}-long '{ax}' axis focuscam cannot choose from")
    planes = np.asarray(data[tuple(index)])
    if frame_axis not in axes:
        planes = planes[np.newaxis]
    frames = [_pixels(planes[k]) for k in range(planes.shape[0])]
    n = len(frames)
    notes = _annotations(root, ns, q)
    z, unit = _ome_z(pix, ns, q, c, t, n, time_frames)
    if unit == "index" and notes.get("z_unit") == "step":
        unit = notes["z_unit"]
    tt = _ome_t(pix, ns, q, c, t, n, time_frames)
    if tt is not None and "t0" in notes:
        tt = [v + float(notes["t0"]) for v in tt]
    kind = notes.get("kind", "sequence" if time_frames else "z-sweep")
    name = image.get("Name") or p.name.split(".")[0]
    what = f"OME-TIFF (series 0 of {len(tf.series)}, channel {c}, time {t})"
    return _stack(p, frames, z, unit, tt, kind, {"name": name, **notes}, what)


def _planes(pix: Any, ns: dict, q: Any, c: int, t: int, time_frames: bool) -> dict[int, Any]:
    out = {}
    for plane in pix.findall(q("Plane"), ns):
        if int(plane.get("TheC", 0)) != c:
            continue
        if time_frames:
            out[int(plane.get("TheT", 0))] = plane
        elif int(plane.get("TheT", 0)) == t:
            out[int(plane.get("TheZ", 0))] = plane
    return out


def _ome_z(pix, ns, q, c, t, n, time_frames) -> tuple[list[float], str]:
    planes = _planes(pix, ns, q, c, t, time_frames)
    if len(planes) >= n and all(planes[k].get("PositionZ") for k in range(n)):
        try:
            values = [float(planes[k].get("PositionZ")) for k in range(n)]
        except ValueError:
            values = []
        if values and all(map(math.isfinite, values)):
            got = _z_from_unit(values, planes[0].get("PositionZUnit"))
            if got is not None:
                return got
    size = pix.get("PhysicalSizeZ")
    if not time_frames and size and float(size) > 0:
        got = _z_from_unit([k * float(size) for k in range(n)], pix.get("PhysicalSizeZUnit"))
        if got is not None:
            return got
    return [float(k) for k in range(n)], "index"


def _ome_t(pix, ns, q, c, t, n, time_frames) -> list[float] | None:
    planes = _planes(pix, ns, q, c, t, time_frames)
    if len(planes) < n or not all(planes[k].get("DeltaT") for k in range(n)):
        return None
    scale = _S_PER.get((planes[0].get("DeltaTUnit") or "s").strip(), 1.0)
    return [float(planes[k].get("DeltaT")) * scale for k in range(n)]


def _annotations(root: Any, ns: dict, q: Any) -> dict[str, Any]:
    """focuscam's own MapAnnotation (truth, kind, z_unit, autofocus scores), if present."""
    for ann in root.iter(f"{{{ns['ome']}}}MapAnnotation" if ns else "MapAnnotation"):
        if ann.get("Namespace") != NAMESPACE:
            continue
        for m in ann.iter(f"{{{ns['ome']}}}M" if ns else "M"):
            if m.get("K") == "focuscam":
                try:
                    data = json.loads(m.text or "{}")
                except ValueError:
                    return {}
                return data if isinstance(data, dict) else {}
    return {}


def _stack(p: Path, frames, z, unit, t, kind, notes, what):
    from .stacks import FORMAT, KINDS, Stack

    shape0 = frames[0].shape
    for k, img in enumerate(frames):
        if img.shape != shape0:
            raise StackError(
                f"{what} {p} plane {k} has shape {img.shape} but plane 0 has {shape0}: "
                "every frame of a stack must have the same size and channels"
            )
    entries = [{"file": p.name, "z": float(v)} for v in z]
    for entry, tv in zip(entries, t or [], strict=False):
        entry["t"] = float(tv)
    meta = {
        "format": FORMAT,
        "name": notes.get("name") or p.stem,
        "kind": kind if kind in KINDS else "z-sweep",
        "description": notes.get("description") or f"{what} {p}",
        "z_unit": unit,
        "frames": entries,
        "truth": notes.get("truth"),
    }
    for key, value in notes.items():
        meta.setdefault(key, value)
    if notes.get("modality"):
        meta["modality"] = notes["modality"]
    return Stack(path=p, meta=meta, files=[p] * len(frames), z=np.asarray(z, float), t=t, frames=frames)


# ---------------------------------------------------------------------- writing
def open_writer(path: str | os.PathLike[str], *, format: str | None = None, **kw: Any):
    """An OME-TIFF writer for ``format="ome-tiff"`` or a ``.ome.tif(f)`` path, else a StackWriter.

    ``format`` is ``"stack"`` (a focuscam-stack/1 folder of PNGs, the default), ``"ome-tiff"``
    or None (from the path). The keyword arguments are those of
    :class:`~focuscam.stacks.StackWriter`.
    """
    if format not in (None, "stack", "ome-tiff"):
        raise InputError(f"format {format!r} is unknown: use stack or ome-tiff")
    if format == "ome-tiff" or (format is None and is_ome_path(path)):
        return OmeTiffWriter(path, **kw)
    from .stacks import StackWriter

    return StackWriter(path, **kw)


def _check_frame(img: Any) -> np.ndarray:
    if not isinstance(img, np.ndarray):
        raise InputError(f"frame_pixels must be a numpy array, not {type(img).__name__}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)) or 0 in img.shape:
        raise InputError(f"frame_pixels has shape {img.shape}: give a 2-D gray or HxWx3 BGR frame")
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"frame_pixels is {img.dtype}: give uint8 or uint16 pixels")
    return img


class OmeTiffWriter:
    """Write frames into one OME-TIFF; the interface of :class:`~focuscam.stacks.StackWriter`.

    Parameters
    ----------
    path : str or Path
        The file to create, ending in ``.ome.tif`` or ``.ome.tiff``; it must not exist.
    name, kind, z_unit, description, truth, extra
        As for StackWriter; they are stored in the OME-XML (Image Name and Description,
        ``Plane`` PositionZ/DeltaT) and in a MapAnnotation (namespace ``focuscam``), where
        ``extra["autofocus"]["scores"]`` also gives one ``score.N`` entry per plane.
    flush_every : int
        Accepted for StackWriter compatibility (every frame is written as it comes).
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
        import tifffile

        from .stacks import KINDS

        self.path = Path(path)
        if not is_ome_path(self.path):
            raise InputError(f"OME-TIFF output {self.path} must end in .ome.tif or .ome.tiff")
        if kind not in KINDS:
            raise InputError(f"kind {kind!r} is unknown: use one of {', '.join(KINDS)}")
        if self.path.exists():
            raise StackError(f"{self.path} already exists: choose a new file for the recording")
        self.partial = self.path.with_name(self.path.name + ".partial.tif")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tw = tifffile.TiffWriter(self.partial, bigtiff=True)
        except OSError as exc:
            raise StackError(f"cannot create {self.partial}: {exc.strerror or exc}") from None
        self.name, self.kind, self.z_unit = name, kind, z_unit
        self.description = description
        self.truth = None if truth is None else dict(truth)
        self.extra = dict(extra or {})
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self._z: list[float | None] = []
        self._t: list[float | None] = []
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._z)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def append(self, frame_pixels: np.ndarray, *, z: float | None = None, t: float | None = None) -> int:
        """Write one frame (2-D gray or HxWx3 BGR, uint8 or uint16) and return its index."""
        if self._closed:
            raise StackError(f"OmeTiffWriter for {self.path} is closed: open a new one to record more")
        img = _check_frame(frame_pixels)
        if self._shape is None:
            self._shape, self._dtype = img.shape, img.dtype
        elif img.shape != self._shape or img.dtype != self._dtype:
            raise InputError(
                f"frame_pixels is {img.shape} {img.dtype} but this stack's frames are "
                f"{self._shape} {self._dtype}: every frame must have the same shape and dtype"
            )
        for value, what in ((z, "z"), (t, "t")):
            if value is not None and not (
                isinstance(value, int | float | np.number)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                raise InputError(f"{what} {value!r} must be a finite number (or None)")
        rgb = img[:, :, ::-1] if img.ndim == 3 else img
        try:
            self._tw.write(rgb, photometric="rgb" if img.ndim == 3 else "minisblack")
        except OSError as exc:
            raise StackError(
                f"cannot write frame {len(self)} to {self.partial}: {exc.strerror or exc}; "
                f"{len(self)} frames are saved in {self.partial}"
            ) from None
        self._z.append(None if z is None else float(z))
        self._t.append(None if t is None else float(t))
        return len(self._z) - 1

    def _metadata(self) -> dict[str, Any]:
        n = len(self._z)
        has_z = all(v is not None for v in self._z)
        unit = self.z_unit or ("um" if has_z else None)
        notes: dict[str, Any] = {"kind": self.kind, "z_unit": unit if has_z else "index"}
        if self.truth is not None:
            notes["truth"] = self.truth
        notes.update({k: v for k, v in self.extra.items() if k not in notes})
        times = [v for v in self._t if v is not None]
        plane: dict[str, Any] = {}
        if len(times) == n:
            notes["t0"] = times[0]
            plane.update(DeltaT=[v - times[0] for v in times], DeltaTUnit=["s"] * n)
        if has_z:
            ome_unit = {"um": "µm", "mm": "mm"}.get(unit or "", "reference frame")
            plane.update(PositionZ=list(self._z), PositionZUnit=[ome_unit] * n)
        values = {"focuscam": json.dumps(notes, allow_nan=False, default=float)}
        scores = (self.extra.get("autofocus") or {}).get("scores") or []
        for k, s in enumerate(scores):
            values[f"score.{k}"] = f"{float(s):.9g}"
        axes = ("T" if self.kind == "sequence" else "Z") + "YX" + ("S" if len(self._shape or ()) == 3 else "")
        md: dict[str, Any] = {
            "axes": axes,
            "Name": self.name,
            "AcquisitionDate": self.started.strftime("%Y-%m-%dT%H:%M:%S"),
            "MapAnnotation": {"Namespace": NAMESPACE, "Value": values},
        }
        if self.description:
            md["Description"] = self.description
        if plane:
            md["Plane"] = plane
        steps = np.diff(np.asarray(self._z, dtype=float)) if has_z and n > 1 else np.zeros(0)
        if steps.size and unit in ("um", "mm") and steps[0] > 0 and np.allclose(steps, steps[0], rtol=1e-9):
            # an evenly spaced sweep: the spacing that Fiji/Bio-Formats use for the voxel depth
            md["PhysicalSizeZ"], md["PhysicalSizeZUnit"] = float(steps[0]), {"um": "µm", "mm": "mm"}[unit]
        return md

    def close(self) -> None:
        """Write the OME-TIFF from the frames so far and remove the partial file; idempotent.

        A writer closed without any frame writes nothing.
        """
        import tifffile

        if self._closed:
            return
        self._closed = True
        self._tw.close()
        if not self._z:
            with contextlib.suppress(OSError):
                self.partial.unlink()
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        assert self._shape is not None and self._dtype is not None

        def planes():
            with tifffile.TiffFile(self.partial) as tf:
                for page in tf.pages:
                    yield page.asarray()

        try:
            tifffile.imwrite(
                tmp,
                data=planes(),
                shape=(len(self._z), *self._shape),
                dtype=self._dtype,
                photometric="rgb" if len(self._shape) == 3 else "minisblack",
                metadata=self._metadata(),
                ome=True,
                bigtiff=len(self._z) * int(np.prod(self._shape)) * self._dtype.itemsize > (3 << 30),
            )
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StackError(
                f"cannot write {self.path}: {exc.strerror or exc}; the {len(self)} frames recorded "
                f"are kept in {self.partial}"
            ) from None
        with contextlib.suppress(OSError):
            self.partial.unlink()

    def __enter__(self) -> OmeTiffWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
