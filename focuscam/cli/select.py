"""``focuscam select``: the sharpest plane of a recorded focus stack."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import _batch
from ._args import Number, bin_type, measure_names, roi_type
from ._regions import add_grid_arguments, print_regions, stack_regions

EPILOG = """\
examples:
  focuscam select recordings/target_color
  focuscam select ../shared/stacks/dfnn_mitochondria --json
  focuscam select frames/ --measure teng --roi 100,80,320,240 --plot curve.png
  focuscam select sweep.tif --bin 2
  focuscam select ../shared/stacks/pcb_slanted --grid 3x3

PATH is a focuscam-stack/1 folder (stack.json + frames/), a plain folder of images
(natural sort, z = index), a multi-page TIFF or a video file (z = frame index).
Exit codes: 0 focused, 1 no clear focus peak (state "failed"), 2 bad input.

"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "select",
        help="pick the sharpest plane of a recorded focus stack",
        description=(
            "Score every frame of a focus stack with a focus measure on an ROI, fit the peak of "
            "the focus curve (sub-step) and report the best plane, its z and whether the peak is "
            "clear (focused) or not (failed)."
        ),
        epilog=EPILOG + _batch.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path", metavar="PATH", nargs="+", help="stack folder, image folder, multi-page TIFF or video"
    )
    parser.add_argument(
        "--measure",
        default=None,
        metavar="NAME",
        help=f"focus measure: {', '.join(measure_names())} or auto (default lapv, glvn in brightfield; "
        "auto = the most significant of lapv, teng, glvn)",
    )
    parser.add_argument(
        "--roi", type=roi_type, metavar="x,y,w,h", help="region of interest in pixels (default: whole frame)"
    )
    parser.add_argument(
        "--bin",
        type=bin_type,
        default="auto",
        metavar="N|auto",
        help="k x k binning before measuring (default auto: chosen from the frame size, "
        "coarser when pixel noise drowns the focus curve)",
    )
    parser.add_argument(
        "--mode",
        choices=("max", "brightfield"),
        help="max = sharpest is the highest score; brightfield = contrast minimum between two maxima "
        "(default: brightfield when stack.json says modality brightfield, else max)",
    )
    index = Number(int, 0, 100_000)
    parser.add_argument("--channel", type=index, metavar="C", help="OME-TIFF: the channel to read (0-based)")
    parser.add_argument("--time", type=index, metavar="T", help="OME-TIFF: the time point to read (0-based)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    parser.add_argument("--plot", metavar="CURVE.png", help="write a labelled PNG of the focus curve")
    add_grid_arguments(parser)
    _batch.add_arguments(parser)
    parser.set_defaults(func=run)


def _z_formatter(z: Any, z_unit: str | None):
    """``f(value) -> text`` showing a z of this stack to a tenth of its plane spacing, with its unit."""
    import numpy as np

    from ..plot import format_z

    steps = np.abs(np.diff(np.asarray(z, dtype=float)))
    steps = steps[np.isfinite(steps) & (steps > 0)]
    spacing = float(np.median(steps)) if steps.size else 1.0
    return lambda value: format_z(float(value), spacing, z_unit)


def run(args: argparse.Namespace) -> int:
    from .._wallclock import utc_now
    from ..errors import InputError
    from ..select import select_plane
    from ..stacks import load_stack
    from ._json import versioned
    from ._progress import Progress

    if _batch.is_batch(args):
        return _batch.run_batch(args)
    args.path = args.path[0]
    roi = args.roi
    if args.plot is not None and not str(args.plot).lower().endswith(".png"):
        raise InputError(f"--plot {args.plot!r} must name a .png file, e.g. --plot curve.png")
    if args.channel is not None or args.time is not None:
        from ..ometiff import load_tiff

        if not str(args.path).lower().endswith((".tif", ".tiff")):
            raise InputError("--channel and --time apply to (OME-)TIFF stacks only: drop them")
        stack = load_tiff(args.path, channel=args.channel, time=args.time)
    else:
        stack = load_stack(args.path)
    started_utc = utc_now()
    try:
        with Progress(len(stack), label="select", enabled=not args.json) as bar:
            result = select_plane(
                stack,
                name=args.measure,
                roi=roi,
                bin=args.bin,
                mode=args.mode,
                on_frame=lambda done, _total: bar.update(done),
            )
    except InputError as exc:
        msg = str(exc)
        if msg.startswith("roi "):
            msg = "--" + msg
        raise InputError(msg) from None

    regions = stack_regions(stack, result, args) if args.grid is not None else None
    truth = stack.truth
    within = None
    if truth is not None and result.z_unit == stack.z_unit:
        within = bool(abs(result.z - truth["z"]) <= truth["tolerance"])

    if args.plot is not None:
        from ..plot import save_curve_png

        z = stack.z if result.z_unit == stack.z_unit else list(range(len(stack)))
        save_curve_png(
            args.plot,
            z,
            result.scores,
            z_unit=result.z_unit,
            peak=result,
            measure=result.measure,
            truth=truth if result.z_unit == stack.z_unit else None,
            title=f"{stack.name}: {result.measure}, {result.state}",
        )

    if args.json:
        out = versioned(result.to_dict())
        out.update(
            started_utc=started_utc,
            path=str(args.path),
            name=stack.name,
            frames=len(stack),
            truth=truth,
            within_tolerance=within,
            plot=str(args.plot) if args.plot else None,
        )
        if regions is not None:
            out.update(regions.to_dict())
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        fz = _z_formatter(stack.z if result.z_unit == stack.z_unit else range(len(stack)), result.z_unit)
        where = "the whole frame" if roi is None else f"ROI {roi}"
        print(f"stack:   {args.path} ({stack.name}: {len(stack)} frames, {stack.kind}, z in {result.z_unit})")
        print(f"measure: {result.measure} on {where}, bin {result.bin}, {result.mode} mode")
        if result.focused:
            print(
                f"result:  focused on frame {result.index} at z = {fz(result.z)} "
                f"(fitted; that frame is at {fz(result.z_sample)}), confidence {result.confidence:.2f}"
            )
        else:
            print(
                f"result:  FAILED, no clear focus: best frame {result.index} at z = {fz(result.z)}, "
                f"confidence {result.confidence:.2f}"
            )
        print(f"why:     {result.reason}")
        if truth is not None and within is not None:
            verdict = "within" if within else "OUTSIDE"
            print(
                f"truth:   z = {fz(truth['z'])} +- {truth['tolerance']:.6g}: result is {verdict} "
                f"tolerance (off by {fz(abs(result.z - truth['z']))})"
            )
        if args.plot:
            print(f"plot:    {args.plot}")
        if regions is not None:
            print_regions(regions)
    return 0 if result.focused else 1
