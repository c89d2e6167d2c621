"""The ``focuscam`` command: one module per subcommand, wired here.

Each subcommand module ``focuscam.cli.<name>`` defines ``register(subparsers)``, which adds
its parser and sets ``func`` (a callable ``args -> int``) with ``set_defaults``. Modules
import their heavy dependencies (numba, OpenCV) inside ``func`` so that ``--help`` and
light subcommands start fast.

Exit codes: 0 ok, 1 ran but failed to focus, 2 bad usage or input, 3 device error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys

from ..errors import EXIT_CODES, FocuscamError, exit_code_for
from ._args import OneLineParser

#: Subcommands in the order ``--help`` lists them.
SUBCOMMANDS = (
    "demo",
    "monitor",
    "autofocus",
    "select",
    "record",
    "evaluate",
    "calibrate",
    "move",
    "ports",
    "synth",
    "bench",
    "warmup",
    "rig",
    "serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="focuscam",
        description="Real-time camera autofocus and focus-plane selection.",
        epilog="Exit codes: 0 ok, 1 failed to focus, 2 bad usage or input, 3 device error.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"focuscam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in SUBCOMMANDS:
        modname = f"{__name__}.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``focuscam`` command and return its exit code (130 on Ctrl-C, at any moment)."""
    from .._entry import checkpoint, exit_now

    startup = signal.getsignal(signal.SIGINT) is exit_now
    try:
        if startup:  # from here on Ctrl-C is a KeyboardInterrupt that commands clean up after
            signal.signal(signal.SIGINT, signal.default_int_handler)
        checkpoint("main")
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_CODES["usage"]
        checkpoint("command")
        code = args.func(args)
    except KeyboardInterrupt:
        if startup:
            signal.signal(signal.SIGINT, exit_now)  # a second Ctrl-C while this one is handled
        print("focuscam: interrupted", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except FocuscamError as exc:
        print(f"focuscam: error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        return EXIT_CODES["ok"]
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
