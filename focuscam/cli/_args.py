"""Argument types (argparse ``type=`` callables) and flag sets shared by the subcommands."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """A whole number >= 1 (``--frames``, ``--starts``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (``--seconds``, ``--fps``)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number > 0")
    return value


def add_source_arguments(parser: argparse.ArgumentParser, limits: argparse._ActionsContainer) -> None:
    """The frame-source flags of ``monitor`` and ``record``.

    ``--source``, ``--fps`` and ``--loop`` go on ``parser``; ``--frames`` and ``--seconds`` on
    ``limits``, a group of the caller's (mutually exclusive for ``record``).
    """
    parser.add_argument(
        "--source", metavar="SPEC", help="frame source (see below; required here or in --rig)"
    )
    limits.add_argument("--frames", type=positive_int, metavar="N", help="stop after N frames")
    limits.add_argument("--seconds", type=positive_float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--fps",
        type=positive_float,
        metavar="F",
        help="replay sources: play at F frames/s (default: recorded times)",
    )
    parser.add_argument(
        "--loop", action="store_true", help="replay sources: start again after the last frame"
    )
