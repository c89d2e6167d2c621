"""``focuscam bench``: time the focus measures against OpenCV and a memory floor."""

from __future__ import annotations

import argparse
import json

EPILOG = """examples:
  focuscam bench                 full table (several minutes; frames cycled cold, >= 96 MB each)
  focuscam bench --quick         small repeat counts, a smoke run (timings not meaningful)
  focuscam bench --json > b.json one JSON object: rows, compile times, targets
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark the focus measures against OpenCV",
        description=(
            "Median time per frame of lapv, the OpenCV reference (cvtColor + Laplacian(CV_64F) + var),\n"
            "the fastest OpenCV formulation, a read-only memory floor and every other measure, on\n"
            "several frame sizes, full frame and a centred 25% ROI, measured interleaved after\n"
            "warm-up on frames not hot in cache (full frame, 25% and 512x512 ROIs), each measure against\n"
            "its fastest OpenCV formulation, plus numba compile times and the CPU time of a warm\n"
            '`focuscam select` and of `focuscam --help`. Every ratio has its own --json key ("ratios")\n'
            'and every target PASS or FAIL ("targets", "targets_by_key").\n'
            "Exit code 0 even when a target fails (the report says PASS or FAIL)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument(
        "--quick", action="store_true", help="small frame cycles and repeat counts (smoke run)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import format_table, run_benchmark
    from ._progress import Progress

    with Progress(label="bench", enabled=not args.json) as bar:  # a terminal only, never piped
        result = run_benchmark(quick=args.quick, progress=lambda message: bar.advance(note=message))
    if args.json:
        from ._json import versioned

        print(json.dumps(versioned(result)))
    else:
        print(format_table(result))
    return 0
