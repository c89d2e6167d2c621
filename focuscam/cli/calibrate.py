"""``focuscam calibrate``: measure a rig's focus-curve width on a z-sweep and store it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EPILOG = """\
examples:
  focuscam calibrate ../shared/stacks/dfnn_mitochondria
  focuscam calibrate recordings/cells_gray16 --rig my_rig.toml --write
  focuscam calibrate recordings/target_color --measure teng --json

STACK is a z-sweep recorded on the rig (e.g. `focuscam record` or `focuscam autofocus
--strategy sweep --record run1`). Every plane is scored (as `focuscam select` does; without
--measure with lapv, teng and glvn, keeping the most significant curve), a peak model is fitted
and its width printed as the sigma of the Gaussian with the same full width at half maximum.
--write stores it as [autofocus] curve_width_um (and the chosen measure) in the --rig file
(created when missing); `focuscam autofocus --rig` then passes them to the search. A sweep whose peak
is not significant is not written (exit 1).
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="measure the focus-curve width of a rig on a z-sweep (stored in the rig file)",
        description="Fit the peak model to a z-sweep's focus curve and report its width (um).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stack", metavar="STACK", help="a z-sweep stack folder recorded on the rig")
    parser.add_argument(
        "--measure", metavar="NAME", help="focus measure (default: the most significant of lapv, teng, glvn)"
    )
    parser.add_argument("--rig", metavar="RIG.toml", help="the rig file to write to (with --write)")
    parser.add_argument("--write", action="store_true", help="store curve_width_um in the --rig file")
    parser.add_argument("--json", action="store_true", help="print the calibration as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..calibrate import calibrate_stack, write_curve_width
    from ..errors import InputError

    if args.write and not args.rig:
        raise InputError("--write needs --rig RIG.toml: name the rig file to store the width in")
    cal = calibrate_stack(args.stack, measure=args.measure)
    written = None
    if args.write and cal.significant:
        # a measure chosen here (no --measure) is the rig's measure from now on
        chosen = None if args.measure else cal.measure
        written = str(write_curve_width(args.rig, cal.curve_width_um, measure=chosen))
    if args.json:
        json.dump({**cal.to_dict(), "written": written}, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(
            f"curve width {cal.curve_width_um:.4g} um (FWHM {cal.fwhm_um:.4g} um, {cal.shape}; "
            f"peak at {cal.z_peak_um:.4g} um, {cal.snr:.3g} x noise, {cal.samples} planes, {cal.measure})"
        )
        if written:
            what = f"curve_width_um = {cal.curve_width_um:.6g}" + (
                "" if args.measure else f', measure = "{cal.measure}"'
            )
            print(f"wrote [autofocus] {what} to {written}")
    if not cal.significant:
        print(
            "focuscam: the sweep's peak is not significant: width not trusted (not written)", file=sys.stderr
        )
        return 1
    return 0
