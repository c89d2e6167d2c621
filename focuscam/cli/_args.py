"""The parser class and the typed, bounded argument types shared by every subcommand.

:class:`OneLineParser` is the parser of ``focuscam`` and of every subcommand. It

- takes ``--opt -5``, ``--opt -.5``, ``--opt -1e-3`` and ``--opt -500,500`` as the option's value
  (argparse's own rule accepts only plain negative integers and decimals, so a pair starting with
  a negative number read as an unknown option: "expected one argument");
- refuses a mistyped option before parsing, in one line naming the nearest known one and the
  subcommand's help (argparse would hand the next word to a positional argument and report it
  as "unrecognized");
- reports every usage error in one line and exits with code 2.

Numbers: every numeric option takes a :class:`Number` (a finite value inside documented bounds,
whole numbers for counts), a :class:`Pair` of them (``LO,HI``), or one of the small composite
types below (``RxC``, ``x,y,w,h``, ``WxH``). The bounds are sane physical or practical limits
(they are printed in ``--help`` and in the error), so a value like ``--starts 1000000000000`` or
``--speed 1e-300`` is refused before anything is allocated, opened or sent.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
from typing import Any

from ..errors import EXIT_CODES

#: What argparse should read as a (negative) number, not an option: ``-5``, ``-.5``, ``-1e3``,
#: ``-500,500``, ``-inf`` and ``-nan`` (the last two so that the number types name the problem).
NEGATIVE_NUMBER = re.compile(r"^-(?:\.?\d|inf|nan)", re.IGNORECASE)
#: Longest text a number type reads (a bound on work; no sane number is longer).
MAX_TEXT = 100


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit with code 2.

    It also reads negative numbers and pairs as values and refuses unknown options with a
    suggestion (see the module docstring).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER  # argparse's own matcher, widened

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(
            EXIT_CODES["usage"],
            f"{self.prog}: error: {message} (see '{self.prog} --help')\n",
        )

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = self._leaf(ns).prog
            self.exit(
                EXIT_CODES["usage"],
                f"{prog}: unexpected argument {extras[0]!r}; see {prog} --help\n",
            )
        return ns

    def _leaf(self, ns: argparse.Namespace) -> argparse.ArgumentParser:
        """The parser of the (sub)subcommand that ``ns`` was parsed for."""
        parser: argparse.ArgumentParser = self
        while True:
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            name = getattr(ns, subs[0].dest, None) if subs else None
            if name not in (subs[0].choices if subs else {}):
                return parser
            parser = subs[0].choices[name]

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        strings = list(sys.argv[1:] if args is None else args)
        self._refuse_unknown_options(strings)
        return super().parse_known_args(strings, namespace)

    def _refuse_unknown_options(self, strings: list[str]) -> None:
        """Exit (2) on the first option token this parser does not know, naming the nearest one.

        A parser with subcommands checks only the tokens before the subcommand (the subcommand's
        parser checks the rest).
        """
        has_sub = any(isinstance(a, argparse._SubParsersAction) for a in self._actions)
        known = sorted(self._option_string_actions)
        for token in strings:
            if token == "--":
                return
            if not token.startswith("-") or token == "-" or NEGATIVE_NUMBER.match(token):
                if has_sub:
                    return
                continue
            name = token.split("=", 1)[0]
            if name in self._option_string_actions:
                continue
            if name.startswith("--") and any(k.startswith(name) for k in known):
                continue  # an abbreviation: argparse resolves it (or says it is ambiguous)
            near = difflib.get_close_matches(name, [k for k in known if k.startswith("--")], n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}?)" if near else ""
            self.exit(
                EXIT_CODES["usage"],
                f"{self.prog}: unknown option {name}{hint}; see {self.prog} --help\n",
            )


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:g}"


class Number:
    """An argparse ``type``: a finite number inside ``[lo, hi]``.

    Parameters
    ----------
    kind : {int, float}
        ``int`` reads whole numbers only (``"2.5"`` and ``"1e3"`` are refused).
    lo, hi : float
        Inclusive bounds.
    unit : str
        The unit shown in messages and help (``"um"``, ``"s"``, ``"frames/s"``...).
    """

    numeric = True

    def __init__(self, kind: type, lo: float, hi: float, unit: str = "") -> None:
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.unit = unit
        self.__name__ = "whole number" if kind is int else "number"  # argparse names the type so

    @property
    def bounds(self) -> str:
        """``"0.01..10000 frames/s"``: the accepted range, for help texts."""
        return f"{_fmt(self.lo)}..{_fmt(self.hi)}{' ' + self.unit if self.unit else ''}"

    def _fix(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        return f"give {what} from {_fmt(self.lo)} to {_fmt(self.hi)}{' ' + self.unit if self.unit else ''}"

    def __call__(self, text: str) -> Any:
        raw = str(text)
        if len(raw) > MAX_TEXT:
            raise argparse.ArgumentTypeError(f"{raw[:20]!r}... is too long to be a number: {self._fix()}")
        try:
            value = self.kind(raw.strip())
        except (ValueError, OverflowError):
            what = "a whole number" if self.kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what}: {self._fix()}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{raw!r} is not a finite number: {self._fix()}")
        if not self.lo <= value <= self.hi:
            raise argparse.ArgumentTypeError(f"{raw!r} is out of range: {self._fix()}")
        return value


class Pair:
    """An argparse ``type``: ``A,B`` of two :class:`Number` values (``strict``: A < B, else A <= B)."""

    numeric = True

    def __init__(self, number: Number, *, strict: bool = True, names: str = "LO,HI") -> None:
        self.number = number
        self.strict = strict
        self.names = names
        self.__name__ = "pair"

    @property
    def bounds(self) -> str:
        """The range of each of the two numbers, for help texts."""
        return self.number.bounds

    def __call__(self, text: str) -> tuple[Any, Any]:
        raw = str(text)
        parts = raw.split(",")
        example = f"e.g. -500,500 ({self.number.unit})" if self.number.unit else "e.g. -500,500"
        if len(parts) != 2 or len(raw) > 2 * MAX_TEXT:
            raise argparse.ArgumentTypeError(f"{raw[:40]!r} is not {self.names}: give two numbers, {example}")
        a, b = (self.number(p) for p in parts)
        if not (a < b if self.strict else a <= b):
            rel = "<" if self.strict else "<="
            first, second = self.names.split(",")
            raise argparse.ArgumentTypeError(f"{raw!r} is not {self.names} with {first} {rel} {second}")
        return a, b


def limits_type(text: str) -> Any:
    """``MIN,MAX`` soft limits in um (MIN <= MAX) as a :class:`~focuscam.types.ZLimits`."""
    from ..types import ZLimits

    lo, hi = LIMITS_UM(text)
    return ZLimits(lo, hi)


limits_type.numeric = True  # type: ignore[attr-defined]


def _ints(text: str, sep: str, count: int, what: str, example: str) -> list[int]:
    raw = str(text)
    parts = raw.lower().replace("*", "x").split(sep) if sep == "x" else raw.split(sep)
    try:
        values = [int(p) for p in parts] if len(raw) <= MAX_TEXT else []
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{raw[:40]!r} is not {what}: give e.g. {example}")
    return values


#: The largest grid side: 64 x 64 regions (a focus map finer than that has tiles of a few pixels).
MAX_GRID = 64
#: The largest pixel coordinate or size of a ROI.
MAX_PIXELS = 100_000


def grid_type(text: str) -> tuple[int, int]:
    """``RxC``: rows x columns, each 1..:data:`MAX_GRID`."""
    rows, cols = _ints(text, "x", 2, "RxC (rows x columns)", "3x3")
    if not (1 <= rows <= MAX_GRID and 1 <= cols <= MAX_GRID):
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: give rows and columns from 1 to {MAX_GRID}, e.g. 3x3"
        )
    return rows, cols


def roi_type(text: str) -> Any:
    """``x,y,w,h`` in pixels: x, y >= 0, w, h >= 1, each at most :data:`MAX_PIXELS`."""
    from ..types import ROI

    x, y, w, h = _ints(text, ",", 4, "x,y,w,h", "100,80,320,240 (pixels)")
    if min(x, y) < 0 or min(w, h) < 1 or max(x, y, w, h) > MAX_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: give x,y >= 0 and w,h >= 1 pixels (each <= {MAX_PIXELS}), "
            "e.g. 100,80,320,240"
        )
    return ROI(x, y, w, h)


def bin_type(text: str) -> int | str:
    """A bin factor 1..16 or ``auto``."""
    if str(text).strip() == "auto":
        return "auto"
    try:
        return BIN(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{str(text)[:40]!r} is not a bin factor: give a whole number from 1 to 16, or auto"
        ) from None


for _t in (grid_type, roi_type, bin_type):
    _t.numeric = True  # type: ignore[attr-defined]

# --- the bounded numbers of every subcommand (one place, so help and errors agree) -----------
#: Positions and distances in um: +-10 m, far beyond any focus drive, far inside float precision.
Z_UM = Number(float, -1e7, 1e7, "um")
LIMITS_UM = Pair(Z_UM, strict=False, names="MIN,MAX")
RANGE_UM = Pair(Z_UM, strict=True, names="LO,HI")
FRAMES = Number(int, 1, 10_000_000, "frames")
SECONDS = Number(float, 0.001, 30 * 86_400, "s")
FPS = Number(float, 0.01, 10_000, "frames/s")
STARTS = Number(int, 1, 1000, "starts")
BIN = Number(int, 1, 16)
SEED = Number(int, 0, 2**32 - 1)
PLANES = Number(int, 3, 2000, "planes")
SWEEP_STEPS = Number(int, 3, 2000, "planes")
Z_STEP_UM = Number(float, 1e-3, 1e4, "um")
BLUR_PER_UM = Number(float, 1e-4, 100, "px/um")
PHOTONS = Number(float, 1, 1e9, "e-")
READ_NOISE = Number(float, 0, 1e6, "e-")
BACKLASH_UM = Number(float, 0, 1e5, "um")
STEPS_PER_UM = Number(float, 1e-4, 1e4, "steps/um")
#: GRBL sends F in mm/min with 3 decimals: 0.1 um/s is F0.006, the slowest useful speed.
SPEED_UM_S = Number(float, 0.1, 1e6, "um/s")
TIMEOUT_S = Number(float, 0.01, 3600, "s")
PIXEL_UM = Number(float, 1e-4, 1e4, "um/px")
DRIFT_UM_S = Number(float, 1e-6, 1e6, "um/s")
JOG_UM = Number(float, 1e-3, 1e5, "um")
PORT = Number(int, 0, 65535)
CURVE_WIDTH_UM = Number(float, 1e-4, 1e7, "um")


def measure_names() -> list[str]:
    """The registered focus measures (``--measure`` choices), in registry order."""
    from ..measures import MEASURES

    return list(MEASURES)


def add_source_arguments(parser: argparse.ArgumentParser, limits: argparse._ActionsContainer) -> None:
    """The frame-source flags of ``monitor`` and ``record``.

    ``--source``, ``--fps`` and ``--loop`` go on ``parser``; ``--frames`` and ``--seconds`` on
    ``limits``, a group of the caller's (mutually exclusive for ``record``).
    """
    parser.add_argument(
        "--source", metavar="SPEC", help="frame source (see below; required here or in --rig)"
    )
    limits.add_argument("--frames", type=FRAMES, metavar="N", help=f"stop after N frames ({FRAMES.bounds})")
    limits.add_argument(
        "--seconds", type=SECONDS, metavar="S", help=f"stop after S seconds ({SECONDS.bounds})"
    )
    parser.add_argument(
        "--fps",
        type=FPS,
        metavar="F",
        help=f"replay sources: play at F frames/s ({FPS.bounds}; default: recorded times)",
    )
    parser.add_argument(
        "--loop", action="store_true", help="replay sources: start again after the last frame"
    )


def add_rig_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--rig RIG.toml`` to a subcommand parser (``dest="rig"``)."""
    parser.add_argument(
        "--rig",
        metavar="RIG.toml",
        default=None,
        help="read camera, drive and autofocus defaults from a rig file; flags given here override it",
    )
