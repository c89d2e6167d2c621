"""``focuscam evaluate``: strategies in closed loop on the digital twin of stacks with a truth."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._args import DRIFT_UM_S, SECONDS, STARTS

EPILOG = """\
examples:
  focuscam evaluate ../shared/stacks/fpd_webcam_rep1 ../shared/stacks/maars_bf_yeast
  focuscam evaluate recordings/target_color recordings/cells_gray16 --strategy continuous --starts 8
  focuscam evaluate ../shared/stacks/dfnn_mitochondria --json

Each STACK must be a z-sweep with a known truth (stack.json "truth"). Every strategy runs the
whole closed loop (moves, fresh frames, peak fit, final approach, verification) on the twin
of the stack from N start positions spread over its z range; the baseline row scores every
plane with lapv and takes the argmax. Errors are in the stack's z unit and in plane steps;
frames, moves, travel and simulated time are means per run.
--json prints one JSON object per line: schema ("focuscam/1"), started_utc (ISO 8601, the
run's wall-clock start), stack, strategy, success_rate, mean_error, max_error,
mean_error_steps, max_error_steps, frames, sweep_frames, frame_fraction, moves, travel,
time_s, z_unit, tolerance, runs, failures (start, z, reason, focused),
wrong_focused (runs that said focused outside the tolerance).
--drift UM_PER_S [--seconds S]: focus, then hold with the focus lock for S seconds (default 30)
while the sample drifts at +UM_PER_S, at -UM_PER_S, and with one sudden bump; reports
lock_rms_error beside nolock_rms_error (the drive left where focusing put it), in the stack's unit.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate search strategies on recorded stacks with a known focus",
        description=(
            "Run the autofocus closed loop on the digital twin of each stack (recorded planes served "
            "at a simulated drive's position) from several start positions, and report success rate, "
            "errors, frames, moves, travel and time beside the score-every-plane baseline."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="z-sweep stack folders with a truth")
    parser.add_argument(
        "--strategy",
        action="append",
        metavar="NAME",
        help="strategy to evaluate (repeatable; default: the default strategy, model)",
    )
    parser.add_argument(
        "--starts",
        type=STARTS,
        default=8,
        metavar="N",
        help=f"start positions per stack ({STARTS.bounds}; default 8)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    parser.add_argument(
        "--drift",
        type=DRIFT_UM_S,
        metavar="UM_PER_S",
        help=f"hold with the focus lock while the sample drifts ({DRIFT_UM_S.bounds})",
    )
    parser.add_argument(
        "--seconds",
        type=SECONDS,
        metavar="S",
        help=f"with --drift: seconds of each hold ({SECONDS.bounds}; default 30)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.drift is not None or args.seconds is not None:
        from ..evaluate_drift import run_cli

        return run_cli(args)
    from .._wallclock import utc_now
    from ..errors import EXIT_CODES, Aborted
    from ..evaluate import evaluate, format_table
    from ..stacks import load_stack
    from ._json import dump_line
    from ._progress import Progress

    stacks = [load_stack(path) for path in args.stacks]
    started_utc = utc_now()
    skipped: list[tuple[str, str]] = []
    rows = []
    total = _row_count(stacks, args.strategy)
    interrupted = False
    with Progress(total, label="evaluate", enabled=not args.json) as bar:  # a terminal only
        try:
            for row in evaluate(stacks, args.strategy, starts=args.starts, skipped=skipped):
                rows.append(row)
                bar.advance(note=f"{row.stack} {row.strategy}")
                if args.json:
                    dump_line({**row.to_dict(), "started_utc": started_utc}, flush=True)
        except (KeyboardInterrupt, Aborted):  # Ctrl-C: keep the rows already finished
            interrupted = True
    for stack_name, strategy in skipped:
        print(
            f"focuscam: note: {strategy} skipped on {stack_name}: it needs a single maximum, "
            "the stack is brightfield",
            file=sys.stderr,
        )
    if not args.json and rows:
        print(format_table(rows))
        sys.stdout.flush()
    if interrupted:
        print(
            f"focuscam: evaluate interrupted after {len(rows)} of {total} rows "
            f"({'the rows above are complete' if rows else 'no row was finished'})",
            file=sys.stderr,
        )
        return EXIT_CODES["interrupted"]
    return 0


def _row_count(stacks: list[Any], strategies: list[str] | None) -> int | None:
    """How many rows :func:`focuscam.evaluate.evaluate` yields (strategies a stack supports + baseline).

    None when a strategy is unknown (``evaluate`` then refuses it in one line).
    """
    from ..evaluate import BASELINE, supports
    from ..search import DEFAULT_STRATEGY, STRATEGIES

    names = list(strategies) if strategies else [DEFAULT_STRATEGY]
    if any(name != BASELINE and name not in STRATEGIES for name in names):
        return None
    if BASELINE not in names:
        names.append(BASELINE)
    return sum(1 for stack in stacks for name in names if supports(stack, name))
