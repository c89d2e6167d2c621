"""``focuscam warmup``: compile every numba kernel ahead, so no later command waits on one."""

from __future__ import annotations

import argparse
import json
import time

EPILOG = """examples:
  focuscam warmup          compile (or load from numba's cache) every measure x dtype x channels
  focuscam warmup --json   {"cases": N, "seconds": S, "cache_dir": ...}
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "warmup",
        help="compile every focus-measure kernel ahead (once per install)",
        description=(
            "Compile every numba kernel (each measure for uint8, uint16 and float32, gray and BGR,\n"
            "bin 1 and 2, the focus map, the blur verdict and synth's noise kernels) into numba's\n"
            "on-disk cache, so that later commands load them in a fraction of a second instead of\n"
            "compiling on first use.\n"
            "Safe to run again: cached kernels are only loaded. Progress on a terminal (stderr)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object when done")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._synth_kernels import warmup as synth_warmup
    from ..measures._compile import warmup, warmup_cases
    from ._progress import Progress

    t0 = time.monotonic()
    total = len(warmup_cases())
    with Progress(total + 1, label="warmup", enabled=not args.json) as bar:
        count = warmup(progress=lambda done, _total, label: bar.update(done, note=label))
        bar.update(total, note="synth noise kernels")
        count += synth_warmup()
        bar.update(total + 1, note="done")
    seconds = time.monotonic() - t0
    if args.json:
        from numba.core.config import CACHE_DIR

        print(json.dumps({"cases": count, "seconds": seconds, "cache_dir": CACHE_DIR or None}))
    else:
        print(f"warmup: {count} kernel cases compiled or loaded in {seconds:.1f} s")
    return 0
