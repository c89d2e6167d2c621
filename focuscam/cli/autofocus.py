"""``focuscam autofocus``: one closed-loop autofocus with a source and a drive."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..rig import add_rig_argument

EPILOG = """\
examples:
  focuscam autofocus --source replay:../shared/stacks/fpd_webcam_rep1 --drive sim --json
  focuscam autofocus --source replay:recordings/target_color --drive sim --strategy continuous
  focuscam autofocus --source replay:recordings/cells_gray16 --drive sim --plot curve.png --record run1
  focuscam autofocus --source camera:0 --drive grbl:/dev/ttyUSB0 --range -500,500 --roi 200,150,240,180

replay:STACK with --drive sim runs the digital twin: the frame served is the recorded plane
nearest to the simulated drive's position, on a simulated clock (no hardware; times are
simulated seconds). With real hardware, --range LO,HI (um) is required: it is the search range
and the drive's soft limits.
Positions are printed in um (and in the stack's unit on the twin).
Exit codes: 0 focused, 1 failed to focus, 2 bad input, 3 device error, 130 interrupted (the
drive was stopped and its position printed).
"""


def _range(text: str) -> tuple[float, float]:
    from ..types import ZLimits

    lim = ZLimits.parse(text, param="--range")
    if not lim.lo < lim.hi:
        raise argparse.ArgumentTypeError(f"{text!r} is not LO,HI with LO < HI (um)")
    return lim.lo, lim.hi


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "autofocus",
        help="find the sharpest focus with a camera (or a replay) and a focus drive",
        description=(
            "Run one closed-loop autofocus: move the focus drive, score a fresh frame after every "
            "move, fit the peak of the focus curve, approach it from the backlash direction, "
            "verify the score there and report focused or failed."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--source", metavar="SPEC", help="camera:0, replay:STACK, video:FILE (required here or in --rig)"
    )
    parser.add_argument(
        "--drive", metavar="SPEC", help="sim, grbl:PORT, sangaboard:PORT, ... (required here or in --rig)"
    )
    parser.add_argument("--strategy", metavar="NAME", help="search strategy (default model)")
    parser.add_argument("--measure", metavar="NAME", help="focus measure (default lapv; glvn in brightfield)")
    parser.add_argument(
        "--curve-width",
        dest="curve_width_um",
        type=float,
        default=None,
        metavar="UM",
        help="calibrated focus-curve width in um (focuscam calibrate; [autofocus] curve_width_um)",
    )
    parser.add_argument("--roi", metavar="x,y,w,h", help="region of interest in pixels (default whole frame)")
    parser.add_argument("--range", type=_range, metavar="LO,HI", help="search range in um")
    parser.add_argument("--start", type=float, metavar="Z", help="twin only: where the drive starts, in um")
    parser.add_argument(
        "--mode",
        choices=("max", "brightfield"),
        help="max = sharpest is the highest score; brightfield = contrast minimum "
        "(default: from the stack's modality on the twin, else max)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    parser.add_argument(
        "--no-window",
        action="store_true",
        help="run headless: no live window (the window opens by default when a display is "
        "available, except with --json)",
    )
    parser.add_argument("--record", metavar="DIR", help="record every scored frame as a stack in DIR")
    parser.add_argument("--plot", metavar="CURVE.png", help="write the sampled focus curve as a PNG")
    add_rig_argument(parser)
    parser.set_defaults(func=run)


def _open(args: argparse.Namespace):
    """(source, drive, twin-or-None) for the specs given."""
    from ..drives import open_drive
    from ..errors import InputError

    scheme = args.source.partition(":")[0].lower()
    if scheme == "replay" and args.drive.strip().lower() == "sim":
        from ..twin import make_twin

        path = args.source.partition(":")[2]
        if not path:
            raise InputError("--source replay: names no stack: give replay:STACK_DIR")
        src, drive = make_twin(path, start_um=args.start)
        return src, drive, src
    if args.start is not None:
        raise InputError("--start applies to the twin only (--source replay:STACK --drive sim)")
    if args.range is None:
        raise InputError("--range LO,HI (um) is required with real hardware: give the search range")
    from ..sources import open_source
    from .record import source_options

    rig = getattr(args, "rig_config", None)
    settings: dict[str, Any] = dict(rig.drive.settings()) if rig is not None else {}
    settings.setdefault("limits", args.range)  # soft limits: the rig's, else the search range
    drive = open_drive(args.drive, **settings)
    try:
        src = open_source(args.source, **source_options(args))
    except BaseException:
        drive.close()
        raise
    return src, drive, None


def run(args: argparse.Namespace) -> int:
    from ..autofocus import Autofocus
    from ..errors import Aborted, InputError
    from ..rig import apply_rig
    from ..search import DEFAULT_STRATEGY

    args = apply_rig(args)
    if args.source is None:
        raise InputError("no source: give --source SPEC (e.g. camera:0) or [camera] source in the --rig file")
    if args.drive is None:
        raise InputError("no drive: give --drive SPEC (e.g. sim) or [drive] spec in the --rig file")
    if args.plot is not None and not str(args.plot).lower().endswith(".png"):
        raise InputError(f"--plot {args.plot!r} must name a .png file, e.g. --plot curve.png")
    src, drive, twin = _open(args)
    try:
        mode = args.mode
        options: dict[str, Any] = {}
        if twin is not None:
            if mode is None and (twin.stack.modality or "").lower() == "brightfield":
                mode = "brightfield"
            options["resolution_um"] = twin.spacing_um
        af = Autofocus(
            src,
            drive,
            strategy=args.strategy or DEFAULT_STRATEGY,
            range_um=args.range,
            measure=args.measure,
            roi=args.roi,
            mode=mode or "max",
            record=args.record,
            strategy_options=(
                {"curve_width_um": args.curve_width_um} if args.curve_width_um is not None else None
            ),
            **options,
        )
        try:
            if args.no_window or args.json:
                result = _run_with_progress(af, enabled=not args.json)
            else:
                from ..ui.live import autofocus_window

                result = autofocus_window(af, args)
        except KeyboardInterrupt:
            af.abort()
            where = drive.position
            raise Aborted(f"interrupted; the drive stopped at {where:.3f} um") from None
    finally:
        src.close()
        drive.close()
    _report(args, result, twin)
    return 0 if result.focused else 1


def _run_with_progress(af: Any, *, enabled: bool) -> Any:
    """``af.run()`` with a progress bar counting scored samples (a terminal only, never piped)."""
    from ._progress import Progress

    with Progress(label="autofocus", enabled=enabled) as bar:
        previous = af.on_event

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "sample":
                bar.advance(note=f"z {data['z_um']:.4g} um")
            if previous is not None:
                previous(kind, data)

        af.on_event = on_event
        try:
            return af.run()
        finally:
            af.on_event = previous


def _second_peak(result: Any, mode: str) -> dict[str, float] | None:
    """A second, separate near-equal peak in the run's samples (um), as ``fit_peak`` reports it."""
    from ..search.peak import fit_peak

    if len(result.samples) < 3:
        return None
    zs = [z for z, _ in result.samples]
    ss = [s for _, s in result.samples]
    mode = (
        "brightfield" if result.measure == "glvn" and getattr(result, "mode", "") == "brightfield" else "max"
    )
    fit = fit_peak(zs, ss, mode=mode, test=False)
    if not math.isfinite(fit.second_z):
        return None
    return {"z_um": float(fit.second_z), "ratio": float(fit.second_ratio)}


def _report(args: argparse.Namespace, result: Any, twin: Any) -> None:
    out = result.to_dict()
    brightfield = twin is not None and (twin.stack.modality or "").lower() == "brightfield"
    out["second_peak"] = _second_peak(result, args.mode or ("brightfield" if brightfield else "max"))
    unit, scale = "um", 1.0
    if twin is not None:
        unit = twin.stack.z_unit or "index"
        scale = twin.scale_um
        out["stack"] = twin.stack.name
        out["z_unit"] = unit
        out["z"] = None if result.z is None else result.z / scale
        truth = twin.stack.truth
        if truth is not None and result.z is not None:
            out["truth"] = truth
            out["within_tolerance"] = bool(abs(result.z / scale - truth["z"]) <= truth["tolerance"])
    if args.plot:
        from ..plot import save_curve_png

        zs = [z / scale for z, _ in result.samples]
        ss = [s for _, s in result.samples]
        peak = None if result.target_z is None else result.target_z / scale
        save_curve_png(
            args.plot,
            zs,
            ss,
            z_unit=unit,
            peak=peak,
            measure=result.measure,
            truth=twin.stack.truth if twin is not None else None,
            title=f"autofocus ({result.strategy}): {result.state}",
        )
        out["plot"] = str(args.plot)
    if args.json:
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return
    where = "unknown" if result.z is None else f"{result.z:.6g} um"
    if twin is not None and result.z is not None and unit != "um":
        where += f" ({result.z / scale:.6g} {unit})"
    head = "focused" if result.focused else "FAILED"
    print(f"{head} at z = {where}, confidence {result.confidence:.2f} ({result.strategy})")
    print(
        f"cost:  {result.frames} frames scored, {result.moves} moves, travel {result.travel_um:.6g} um, "
        f"{result.elapsed_s:.2f} s{' (simulated)' if twin is not None else ''}"
    )
    print(f"why:   {result.reason}")
    if out["second_peak"] is not None:
        sp = out["second_peak"]
        print(f"warning: a second peak at {sp['z_um']:.6g} um is {100 * sp['ratio']:.0f}% as high")
    if "within_tolerance" in out:
        t = out["truth"]
        verdict = "within" if out["within_tolerance"] else "OUTSIDE"
        print(f"truth: z = {t['z']:.6g} {unit} +- {t['tolerance']:.6g}: {verdict} tolerance")
    if args.record:
        print(f"recorded: {args.record}")
    if args.plot:
        print(f"plot:  {args.plot}")
