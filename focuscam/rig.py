"""Rig files: one TOML file holding a rig's camera, drive and autofocus defaults.

A rig file has three optional tables (and an optional top-level ``name``)::

    name = "bench scope"

    [camera]
    source = "camera:0"        # a source spec (camera:N, camera:/dev/video2, video:FILE, replay:DIR)
    size = [1920, 1080]        # width, height in pixels
    exposure = -6              # the camera's own exposure units, as OpenCV's CAP_PROP_EXPOSURE
    gain = 0                   # the camera's own gain units (>= 0)
    fps = 30                   # frames per second (> 0)

    [drive]
    spec = "grbl:/dev/ttyUSB0" # a drive spec (sim, grbl:PORT, sangaboard:PORT, uvc:CAMERA, focuscam:PORT)
    steps_per_um = 0.8         # motor steps per um (> 0), for step-based drives
    limits = [-500, 500]       # soft limits [min, max] in um
    backlash = 20              # backlash compensation in um (>= 0)
    speed = 200                # speed in um/s (> 0)
    settle = 0.05              # settle time after a move in s (>= 0)

    [autofocus]
    measure = "lapv"           # a name from focuscam.measures.MEASURES, or auto
    roi = [100, 80, 320, 240]  # x, y, w, h in pixels
    bin = "auto"               # an integer >= 1, or "auto"
    strategy = "coarse-fine"   # a name from focuscam.search.STRATEGIES
    range = [-200, 200]        # search range [lo, hi] in um (inside the drive limits)
    steps = 21                 # planes of a sweep (integer >= 3)
    curve_width_um = 2.5       # focus-curve width in um (> 0), from `focuscam calibrate`

:func:`load_rig` reads and validates a file into a frozen :class:`Rig`; every unknown key and
bad value is reported as one :class:`~focuscam.errors.InputError` line naming the file, the key
and what is allowed. :func:`merge_cli` lets command-line flags override the file: a flag the
user gave wins, a flag left at ``None`` takes the rig's value (see :data:`RIG_FLAGS`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._files import FileProblem, read_regular
from ._rig_schema import SCHEMA, TOP_KEYS, Where, short, validate_value
from .cli._args import add_rig_argument  # defined there: the parser needs no TOML reader
from .errors import InputError
from .types import ROI, ZLimits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Largest rig file read (bytes); a rig file is a few hundred bytes of TOML.
MAX_RIG_BYTES = 1 << 20

__all__ = [
    "MAX_RIG_BYTES",
    "RIG_FLAGS",
    "AutofocusConfig",
    "CameraConfig",
    "DriveConfig",
    "Rig",
    "add_rig_argument",
    "apply_rig",
    "load_rig",
    "merge_cli",
    "parse_rig",
    "resolve_source_path",
]


@dataclass(frozen=True)
class CameraConfig:
    """The ``[camera]`` table. ``None`` means "not set in the file".

    Attributes
    ----------
    source : str or None
        A source spec (``camera:0``, ``camera:/dev/video2``, ``video:FILE``, ``replay:DIR``).
    size : (int, int) or None
        Frame width and height in pixels.
    exposure : float or None
        Exposure in the camera's own units (as OpenCV's ``CAP_PROP_EXPOSURE``).
    gain : float or None
        Gain in the camera's own units (>= 0).
    fps : float or None
        Frames per second (> 0).
    """

    source: str | None = None
    size: tuple[int, int] | None = None
    exposure: float | None = None
    gain: float | None = None
    fps: float | None = None


@dataclass(frozen=True)
class DriveConfig:
    """The ``[drive]`` table. ``None`` means "not set in the file".

    Attributes
    ----------
    spec : str or None
        A drive spec (``sim``, ``grbl:PORT``, ``sangaboard:PORT``, ``uvc:CAMERA``, ``focuscam:PORT``).
    steps_per_um : float or None
        Motor steps per um (> 0).
    limits : ZLimits or None
        Soft limits in um.
    backlash_um : float or None
        Backlash compensation in um (>= 0).
    speed_um_s : float or None
        Speed in um/s (> 0).
    settle_s : float or None
        Settle time after a move in s (>= 0).
    """

    spec: str | None = None
    steps_per_um: float | None = None
    limits: ZLimits | None = None
    backlash_um: float | None = None
    speed_um_s: float | None = None
    settle_s: float | None = None

    def settings(self) -> dict[str, Any]:
        """The keyword settings for :func:`focuscam.drives.open_drive` that the file sets.

        Keys: ``limits`` (ZLimits, um), ``backlash_um``, ``steps_per_um``, ``speed_um_s``,
        ``settle_s``. Settings the file leaves out are left out here too, so the driver's own
        defaults apply; a setting a driver does not take is refused by ``open_drive``.
        """
        out: dict[str, Any] = {}
        for name in ("limits", "backlash_um", "steps_per_um", "speed_um_s", "settle_s"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class AutofocusConfig:
    """The ``[autofocus]`` table. ``None`` means "not set in the file".

    Attributes
    ----------
    measure : str or None
        A focus measure name (``focuscam.measures.MEASURES``) or ``"auto"``.
    roi : ROI or None
        Region of interest ``(x, y, w, h)`` in pixels.
    bin : int or "auto" or None
        Binning factor (>= 1) or ``"auto"``.
    strategy : str or None
        A search strategy name (``focuscam.search.STRATEGIES``).
    range_um : (float, float) or None
        Search range ``(lo, hi)`` in um, lo < hi.
    steps : int or None
        Number of planes of a sweep (>= 3).
    curve_width_um : float or None
        The calibrated focus-curve width (Gaussian sigma in um, ``focuscam calibrate``); passed
        to the search strategy (``curve_width_um``).
    """

    measure: str | None = None
    roi: ROI | None = None
    bin: int | str | None = None
    strategy: str | None = None
    range_um: tuple[float, float] | None = None
    steps: int | None = None
    curve_width_um: float | None = None


@dataclass(frozen=True)
class Rig:
    """A validated rig file.

    Attributes
    ----------
    path : Path or None
        The file it was read from (``None`` when built from a dict).
    name : str or None
        The rig's name (top-level ``name``).
    camera, drive, autofocus
        The three tables; every field ``None`` when the table is absent.
    """

    path: Path | None = None
    name: str | None = None
    camera: CameraConfig = field(default_factory=CameraConfig)
    drive: DriveConfig = field(default_factory=DriveConfig)
    autofocus: AutofocusConfig = field(default_factory=AutofocusConfig)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the file's own key names (units: um, um/s, s)."""

        def clean(value: Any) -> Any:
            if isinstance(value, ZLimits):
                return [value.lo, value.hi]
            if isinstance(value, tuple):
                return list(value)
            return value

        cam = {k: clean(v) for k, v in asdict(self.camera).items()}
        drv = asdict(self.drive)
        drv = {
            "spec": drv["spec"],
            "steps_per_um": drv["steps_per_um"],
            "limits": clean(self.drive.limits),
            "backlash": drv["backlash_um"],
            "speed": drv["speed_um_s"],
            "settle": drv["settle_s"],
        }
        af = self.autofocus
        afd = {
            "measure": af.measure,
            "roi": clean(tuple(af.roi)) if af.roi is not None else None,
            "bin": af.bin,
            "strategy": af.strategy,
            "range": clean(af.range_um),
            "steps": af.steps,
            "curve_width_um": af.curve_width_um,
        }
        return {
            "file": str(self.path) if self.path is not None else None,
            "name": self.name,
            "camera": cam,
            "drive": drv,
            "autofocus": afd,
        }


# --------------------------------------------------------------------------- loading
def parse_rig(data: dict[str, Any], *, source: str = "<rig>", path: Path | None = None) -> Rig:
    """Validate a rig given as a dict (a parsed TOML document) and return a :class:`Rig`.

    Parameters
    ----------
    data : dict
        The TOML document: optional ``name`` and tables ``camera``, ``drive``, ``autofocus``.
    source : str
        How the messages name the document (usually the file path).
    path : Path or None
        Stored in :attr:`Rig.path`.

    Raises
    ------
    InputError
        One line naming ``source``, the key and what is allowed, for the first problem found.
    """
    where = Where(source)
    if not isinstance(data, dict):
        raise InputError(f"{source}: a rig is a TOML table; give [camera], [drive] and [autofocus] tables")
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(
                f"{source}: unknown key {key!r} at the top level; allowed: "
                f"name, [camera], [drive], [autofocus]"
            )
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InputError(f"{source}: name = {short(name)} is not allowed; allowed: a non-empty string")
    tables: dict[str, dict[str, Any]] = {}
    for table in ("camera", "drive", "autofocus"):
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            raise InputError(
                f"{source}: {table} = {short(raw)} is not a table; allowed: a [{table}] table "
                f"with keys {', '.join(SCHEMA[table])}"
            )
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in SCHEMA[table]:
                raise InputError(
                    f"{source}: unknown key [{table}] {key}; allowed keys in [{table}]: "
                    f"{', '.join(SCHEMA[table])}"
                )
            values[SCHEMA[table][key][0]] = validate_value(table, key, value, where)
        tables[table] = values
    if path is not None and str(tables["drive"].get("spec", "")).startswith("mm:"):
        tables["drive"]["spec"] = resolve_source_path(tables["drive"]["spec"], path.parent)
    drive = DriveConfig(**tables["drive"])
    autofocus = AutofocusConfig(**tables["autofocus"])
    if drive.limits is not None and autofocus.range_um is not None:
        lo, hi = autofocus.range_um
        if not (drive.limits.contains(lo) and drive.limits.contains(hi)):
            raise where.bad(
                "autofocus",
                "range",
                list(autofocus.range_um),
                f"a range inside [drive] limits = [{drive.limits.lo:g}, {drive.limits.hi:g}] um",
                "lies outside the drive limits",
            )
    size, roi = tables["camera"].get("size"), autofocus.roi
    if size is not None and roi is not None and (roi.x + roi.w > size[0] or roi.y + roi.h > size[1]):
        raise where.bad(
            "autofocus",
            "roi",
            list(roi),
            f"a rectangle inside [camera] size = [{size[0]}, {size[1]}] pixels",
            "leaves the frame",
        )
    if path is not None and "source" in tables["camera"]:
        tables["camera"]["source"] = resolve_source_path(tables["camera"]["source"], path.parent)
    return Rig(
        path=path,
        name=name.strip() if isinstance(name, str) else None,
        camera=CameraConfig(**tables["camera"]),
        drive=drive,
        autofocus=autofocus,
    )


#: Source-spec schemes whose target is a file or folder.
_PATH_SCHEMES = ("video", "replay", "mm")


def resolve_source_path(spec: str, base: Path) -> str:
    """Make the file or folder of a ``video:``/``replay:`` (or bare path) spec absolute against ``base``.

    Rig files name recordings relative to their own folder, so a rig works from any working
    directory. Camera specs (``camera:0``, a bare integer, a device path) are returned unchanged.
    """
    scheme, sep, target = spec.partition(":")
    if sep and scheme in _PATH_SCHEMES:
        p = Path(target).expanduser()
        return f"{scheme}:{p if p.is_absolute() else (base / p).resolve()}"
    if not sep and not spec.strip().isdigit():
        p = Path(spec).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())
    return spec


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig TOML file.

    Parameters
    ----------
    path : str or Path
        The rig file (TOML, UTF-8).

    Returns
    -------
    Rig
        The validated rig; positions and ranges in um, speed in um/s, settle in s. A relative
        path in ``[camera] source`` (``video:FILE``, ``replay:DIR``) is taken relative to the
        rig file's folder and made absolute.

    Raises
    ------
    InputError
        The file is missing, is not valid TOML, has an unknown key or a bad value; one line
        naming the file, the key and what is allowed.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"rig file {p} is a folder: give the path of a rig TOML file")
    try:
        raw = read_regular(p, MAX_RIG_BYTES)  # never a FIFO (hangs) or a device (/dev/zero)
    except FileNotFoundError:
        raise InputError(f"rig file {p} not found: give the path of a rig TOML file") from None
    except FileProblem as exc:
        raise InputError(f"rig file {p} {exc}: give the path of a rig TOML file") from None
    except OSError as exc:
        raise InputError(f"rig file {p} cannot be read ({exc.strerror}): check its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text; save the rig file as UTF-8 TOML") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"{p}: not valid TOML ({exc}); fix the syntax, see the rig example in the README"
        ) from None
    return parse_rig(data, source=str(p), path=p)


# --------------------------------------------------------------------------- CLI merging
#: argparse ``dest`` -> (table, field) of the rig that supplies it when the flag is ``None``.
#: Values are the rig's typed values: ``roi`` an :class:`ROI`, ``limits`` a :class:`ZLimits`,
#: ``range`` a ``(lo, hi)`` tuple in um, ``size`` a ``(w, h)`` tuple; so flags should parse into
#: the same types (``type=ROI.parse``, ``type=ZLimits.parse``).
RIG_FLAGS: dict[str, tuple[str, str]] = {
    "source": ("camera", "source"),
    "size": ("camera", "size"),
    "exposure": ("camera", "exposure"),
    "gain": ("camera", "gain"),
    "fps": ("camera", "fps"),
    "drive": ("drive", "spec"),
    "steps_per_um": ("drive", "steps_per_um"),
    "limits": ("drive", "limits"),
    "backlash": ("drive", "backlash_um"),
    "speed": ("drive", "speed_um_s"),
    "settle": ("drive", "settle_s"),
    "measure": ("autofocus", "measure"),
    "roi": ("autofocus", "roi"),
    "bin": ("autofocus", "bin"),
    "strategy": ("autofocus", "strategy"),
    "range": ("autofocus", "range_um"),
    "steps": ("autofocus", "steps"),
    "curve_width_um": ("autofocus", "curve_width_um"),
}


def merge_cli(rig: Rig | None, args: argparse.Namespace) -> argparse.Namespace:
    """Return a copy of ``args`` where every flag the user did not give takes the rig's value.

    A flag counts as "not given" when its attribute is ``None`` (so subcommands that accept
    ``--rig`` give such flags ``default=None`` and apply their own default after merging). Only
    attributes that exist on ``args`` are filled: a subcommand without ``--roi`` never gains
    one. The mapping is :data:`RIG_FLAGS`. ``args.rig_config`` is set to ``rig``.

    Parameters
    ----------
    rig : Rig or None
        The rig (``None``: nothing to merge).
    args : argparse.Namespace
        The parsed command line; it is not modified.
    """
    merged = argparse.Namespace(**vars(args))
    merged.rig_config = rig
    if rig is None:
        return merged
    for dest, (table, name) in RIG_FLAGS.items():
        if not hasattr(merged, dest) or getattr(merged, dest) is not None:
            continue
        value = getattr(getattr(rig, table), name)
        if value is not None:
            setattr(merged, dest, value)
    return merged


def apply_rig(args: argparse.Namespace) -> argparse.Namespace:
    """``merge_cli(load_rig(args.rig), args)`` when ``args.rig`` is set, else a plain copy."""
    path = getattr(args, "rig", None)
    return merge_cli(load_rig(path) if path else None, args)
