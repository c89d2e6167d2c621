"""The rig file's schema and the checks of each value (one :class:`InputError` line each).

:data:`SCHEMA` maps ``table -> key -> (field name, what is allowed)``; :func:`validate_value`
turns one TOML value into the typed value the :class:`~focuscam.rig.Rig` holds, or raises the
one line that names the file, the key, the problem and what is allowed.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InputError
from .types import ROI, ZLimits

#: table -> key -> (field name, what is allowed)
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "camera": {
        "source": ("source", 'a source spec string, e.g. "camera:0", "video:FILE", "replay:DIR"'),
        "size": ("size", "[width, height]: two positive integers in pixels, e.g. [1920, 1080]"),
        "exposure": ("exposure", "a finite number in the camera's own exposure units"),
        "gain": ("gain", "a finite number >= 0 in the camera's own gain units"),
        "fps": ("fps", "a number > 0 (frames per second)"),
    },
    "drive": {
        "spec": ("spec", "a drive spec string: sim, grbl:PORT, sangaboard:PORT, uvc:CAMERA, focuscam:PORT"),
        "steps_per_um": ("steps_per_um", "a number > 0 (motor steps per um)"),
        "limits": ("limits", "[min, max]: two numbers in um with min < max, e.g. [-500, 500]"),
        "backlash": ("backlash_um", "a number >= 0 in um"),
        "speed": ("speed_um_s", "a number > 0 in um/s"),
        "settle": ("settle_s", "a number >= 0 in seconds"),
    },
    "autofocus": {
        "measure": ("measure", "a focus measure name or auto"),
        "roi": ("roi", "[x, y, w, h]: four integers in pixels, x, y >= 0 and w, h > 0"),
        "bin": ("bin", 'an integer >= 1 or "auto"'),
        "strategy": ("strategy", "a search strategy name"),
        "range": ("range_um", "[lo, hi]: two numbers in um with lo < hi, inside the drive limits"),
        "steps": ("steps", "an integer >= 3"),
        "curve_width_um": ("curve_width_um", "a number > 0 in um (from focuscam calibrate)"),
    },
}
TOP_KEYS = ("name", "camera", "drive", "autofocus")


class Where:
    """Builds the one-line messages: ``FILE: [table] key = value: problem; allowed: ...``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def bad(
        self, table: str, key: str, value: Any, allowed: str, problem: str = "is not allowed"
    ) -> InputError:
        shown = short(value)
        return InputError(f"{self.source}: [{table}] {key} = {shown} {problem}; allowed: {allowed}")


def short(value: Any) -> str:
    text = (
        repr(value)
        if isinstance(value, str)
        else str(value).replace("True", "true").replace("False", "false")
    )
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a finite number (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _pair(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list) or len(value) != 2:
        return None
    nums = [_number(v) for v in value]
    if None in nums:
        return None
    return (nums[0], nums[1])  # type: ignore[return-value]


def validate_value(table: str, key: str, value: Any, where: Where) -> Any:
    allowed = SCHEMA[table][key][1]

    def fail(problem: str = "is not allowed") -> InputError:
        return where.bad(table, key, value, allowed, problem)

    if key in ("source", "spec", "measure", "strategy"):
        if not isinstance(value, str) or not value.strip():
            raise fail("is not a non-empty string")
        value = value.strip()
        if key == "source":
            scheme, sep, target = value.partition(":")
            known = scheme in ("camera", "video", "replay", "mm", "picamera")
            if sep and "://" not in value and len(scheme) > 1 and not known:
                raise fail("is not a known source spec")
            if known and not target.strip():
                raise fail("names no camera, file or stack")
        if key == "spec":
            _check_drive_spec(value, fail)
        if key == "measure" and value != "auto":  # auto: as Autofocus(measure="auto")
            _check_name(value, "focuscam.measures", "MEASURES", table, key, where)
        if key == "strategy":
            _check_name(value, "focuscam.search", "STRATEGIES", table, key, where)
        return value
    if key == "size":
        if not isinstance(value, list) or len(value) != 2:
            raise fail("is not a list of two integers")
        ints = [_integer(v) for v in value]
        if None in ints or min(ints) <= 0:  # type: ignore[type-var]
            raise fail("is not two positive integers")
        return (ints[0], ints[1])
    if key in ("exposure",):
        num = _number(value)
        if num is None:
            raise fail("is not a finite number")
        return num
    if key in ("gain", "backlash", "settle"):
        num = _number(value)
        if num is None:
            raise fail("is not a finite number")
        if num < 0:
            raise fail("is negative")
        return num
    if key in ("fps", "steps_per_um", "speed", "curve_width_um"):
        num = _number(value)
        if num is None:
            raise fail("is not a finite number")
        if num <= 0:
            raise fail("is not > 0")
        return num
    if key in ("limits", "range"):
        pair = _pair(value)
        if pair is None:
            raise fail("is not a list of two finite numbers")
        if not pair[0] < pair[1]:
            raise fail("is not increasing")
        return ZLimits(*pair) if key == "limits" else pair
    if key == "roi":
        if not isinstance(value, list) or len(value) != 4:
            raise fail("is not a list of four integers")
        ints = [_integer(v) for v in value]
        if None in ints:
            raise fail("is not four integers")
        x, y, w, h = ints  # type: ignore[misc]
        if x < 0 or y < 0 or w <= 0 or h <= 0:
            raise fail("has a negative x or y, or an empty w or h")
        return ROI(x, y, w, h)
    if key == "bin":
        if value == "auto":
            return "auto"
        ints = _integer(value)
        if ints is None or ints < 1:
            raise fail()
        return ints
    if key == "steps":
        ints = _integer(value)
        if ints is None or ints < 3:
            raise fail()
        return ints
    raise AssertionError(f"unhandled rig key {table}.{key}")  # pragma: no cover - schema bug


def _check_drive_spec(spec: str, fail: Any) -> None:
    try:
        from .drives.spec import parse_spec
    except ModuleNotFoundError as exc:  # pragma: no cover - drives not installed
        if exc.name and exc.name.startswith("focuscam.drives"):
            return
        raise
    try:
        parse_spec(spec)
    except InputError as exc:
        if "handler" in str(exc):  # a known scheme with a refused pyserial URL (spy://...)
            raise fail(f"names a port focuscam does not allow ({exc})") from None
        raise fail("is not a known drive spec") from None


def _known_names(module: str, attr: str) -> list[str] | None:
    """The names registered in ``module.attr``, or None when that module does not exist yet."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    names = getattr(mod, attr, None)
    return None if names is None else sorted(names)


def _check_name(value: str, module: str, attr: str, table: str, key: str, where: Where) -> None:
    names = _known_names(module, attr)
    if names is not None and value not in names:
        raise where.bad(table, key, value, f"one of {', '.join(names)}", "is not known")
