"""``focuscam autofocus``: one closed-loop autofocus with a source and a drive."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ._args import (
    CURVE_WIDTH_UM,
    LIMITS_UM,
    RANGE_UM,
    SWEEP_STEPS,
    Z_UM,
    add_rig_argument,
    bin_type,
    limits_type,
    measure_names,
    roi_type,
)
from ._regions import RegionTap, add_grid_arguments, print_regions

EPILOG = """\
examples:
  focuscam autofocus --source replay:../shared/stacks/fpd_webcam_rep1 --drive sim --json
  focuscam autofocus --source replay:recordings/target_color --drive sim --strategy continuous
  focuscam autofocus --source replay:recordings/cells_gray16 --drive sim --plot curve.png --record run1
  focuscam autofocus --source camera:0 --drive grbl:/dev/ttyUSB0 --limits -500,500 --range -200,200
  focuscam autofocus --source replay:../shared/stacks/pcb_slanted --drive sim --grid 3x3
  focuscam autofocus --source mm:MMConfig.cfg --drive mm:MMConfig.cfg --limits -50,50 --record af.ome.tif

replay:STACK with --drive sim runs the digital twin: the frame served is the recorded plane
nearest to the simulated drive's position, on a simulated clock (no hardware; times are
simulated seconds). --limits MIN,MAX (um) are the drive's soft limits (required for motor
drives, here or in the rig's [drive] limits; on the twin: default the stack's z range);
--range LO,HI (um) is the first search window (default: the limits). A peak at the edge of the
window re-centres the search within the limits. A --range outside the --limits is refused.
Positions are shown in the stack's own unit on the twin (mm, um, ...), else in um.
Exit codes: 0 focused, 1 failed to focus, 2 bad input, 3 device error, 130 interrupted (the
drive was stopped and its position printed).
"""


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
    parser.add_argument(
        "--measure",
        metavar="NAME",
        help=f"focus measure: {', '.join(measure_names())} or auto (default auto: lapv, and when its curve "
        "shows no significant peak the search goes on with the more significant of teng and glvn; "
        "glvn in brightfield)",
    )
    parser.add_argument(
        "--curve-width",
        dest="curve_width_um",
        type=CURVE_WIDTH_UM,
        default=None,
        metavar="UM",
        help="calibrated focus-curve width (focuscam calibrate; [autofocus] curve_width_um; "
        f"{CURVE_WIDTH_UM.bounds})",
    )
    parser.add_argument(
        "--roi", type=roi_type, metavar="x,y,w,h", help="region of interest in pixels (default whole frame)"
    )
    parser.add_argument(
        "--range",
        type=RANGE_UM,
        metavar="LO,HI",
        help=f"first search window ({RANGE_UM.bounds}; default: the limits)",
    )
    parser.add_argument(
        "--limits",
        type=limits_type,
        metavar="MIN,MAX",
        help=f"the drive's soft limits ({LIMITS_UM.bounds}); re-centring stays inside",
    )
    parser.add_argument(
        "--steps",
        type=SWEEP_STEPS,
        metavar="N",
        help=f"planes of the (coarse) sweep (sweep, coarse-fine; {SWEEP_STEPS.bounds})",
    )
    parser.add_argument(
        "--bin", type=bin_type, metavar="N|auto", help="bin N x N before measuring (default auto)"
    )
    parser.add_argument(
        "--start", type=Z_UM, metavar="Z", help=f"twin only: where the drive starts ({Z_UM.bounds})"
    )
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
    parser.add_argument(
        "--record", metavar="DIR", help="record every scored frame as a stack in DIR (or into X.ome.tif)"
    )
    parser.add_argument("--plot", metavar="CURVE.png", help="write the sampled focus curve as a PNG")
    add_grid_arguments(parser)
    add_rig_argument(parser)
    parser.set_defaults(func=run)


def _check_range(args: argparse.Namespace) -> None:
    """A --range outside the --limits: one line, before any device opens."""
    from ..errors import InputError

    if args.range is None or args.limits is None:
        return
    (lo, hi), lim = args.range, args.limits
    if not (lim.contains(lo) and lim.contains(hi)):
        raise InputError(
            f"--range {lo:g},{hi:g} um leaves the drive limits [{lim.lo:g}, {lim.hi:g}] um: "
            "give a --range inside the --limits"
        )


def _open(args: argparse.Namespace):
    """(source, drive, twin-or-None) for the specs given."""
    from ..drives import open_drive
    from ..drives.spec import parse_spec
    from ..errors import InputError
    from .move import MOTOR_SCHEMES

    _check_range(args)
    limits = None if args.limits is None else (args.limits.lo, args.limits.hi)
    scheme = args.source.partition(":")[0].lower()
    if scheme == "replay" and args.drive.strip().lower() == "sim":
        from ..twin import make_twin

        path = args.source.partition(":")[2]
        if not path:
            raise InputError("--source replay: names no stack: give replay:STACK_DIR")
        src, drive = make_twin(path, start_um=args.start, limits=limits)
        return src, drive, src
    if args.start is not None:
        raise InputError("--start applies to the twin only (--source replay:STACK --drive sim)")
    drive_scheme, _ = parse_spec(args.drive)
    if limits is None and drive_scheme in MOTOR_SCHEMES:
        raise InputError(
            f"--limits MIN,MAX (um) is required for {drive_scheme} drives (or [drive] limits in the "
            "rig): the range the optics may travel safely, e.g. --limits=-500,500"
        )
    from ..sources import open_source
    from .record import source_options

    rig = getattr(args, "rig_config", None)
    settings: dict[str, Any] = dict(rig.drive.settings()) if rig is not None else {}
    if limits is not None:
        settings["limits"] = limits
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
    from ._halt import interrupted

    args = apply_rig(args)
    if args.source is None:
        raise InputError("no source: give --source SPEC (e.g. camera:0) or [camera] source in the --rig file")
    if args.drive is None:
        raise InputError("no drive: give --drive SPEC (e.g. sim) or [drive] spec in the --rig file")
    if args.plot is not None and not str(args.plot).lower().endswith(".png"):
        raise InputError(f"--plot {args.plot!r} must name a .png file, e.g. --plot curve.png")
    from .._wallclock import utc_now

    started_utc = utc_now()
    src, drive, twin = _open(args)
    try:
        mode = args.mode
        options: dict[str, Any] = {}
        if twin is not None:
            if mode is None and (twin.stack.modality or "").lower() == "brightfield":
                mode = "brightfield"
            options["resolution_um"] = twin.spacing_um
        tap = None if args.grid is None else RegionTap(src, args.grid, args.roi)
        af = Autofocus(
            src if tap is None else tap.source,
            drive,
            strategy=args.strategy or DEFAULT_STRATEGY,
            range_um=args.range,
            measure=args.measure,
            roi=args.roi,
            mode=mode or "max",
            steps=args.steps,
            bin=args.bin if args.bin is not None else "auto",
            record=args.record,
            strategy_options=(
                {"curve_width_um": args.curve_width_um} if args.curve_width_um is not None else None
            ),
            **options,
        )
        if tap is not None:
            tap.measure, af.on_event = af.measure_name, tap.on_event
        spacing_um = _spacing_um(af, twin)
        try:
            if args.no_window or args.json:
                result = _run_with_progress(af, enabled=not args.json, unit=af.z_unit, spacing_um=spacing_um)
            else:
                from ..ui.live import autofocus_window

                result = autofocus_window(af, args)
        except (KeyboardInterrupt, Aborted) as exc:
            if isinstance(exc, KeyboardInterrupt):
                af.abort()
            if twin is not None:
                raise Aborted("interrupted: the simulated run on the stack's twin was stopped") from None
            raise interrupted(drive) from None  # the position read back once at rest
    finally:
        src.close()
        drive.close()
    regions = None if tap is None else tap.result(mode or "max", args.pixel_um)
    _report(args, result, twin, regions, started_utc=started_utc, spacing_um=spacing_um)
    return 0 if result.focused else 1


def _spacing_um(af: Any, twin: Any) -> float:
    """The z resolution text output shows (um): the twin's plane spacing, else the search's step.

    On hardware that is the drive's step grid (``resolution_um``), else the search resolution
    (default 1/200 of the window).
    """
    if twin is not None:
        return float(twin.spacing_um)
    if af.grid_um > 0:
        return float(af.grid_um)
    return float(af.resolution_um if af.resolution_um is not None else (af.hi - af.lo) / 200.0)


def _z_text(z_um: float | None, unit: Any, spacing_um: float) -> str:
    """``z_um`` in ``unit``, to a tenth of ``spacing_um`` (see :func:`focuscam.plot.format_z`)."""
    from ..plot import format_z

    z = unit.from_um(z_um)
    if z is None or not math.isfinite(z):
        return "unknown"
    return format_z(z, spacing_um / unit.um_per_unit, unit.name)


def _run_with_progress(af: Any, *, enabled: bool, unit: Any, spacing_um: float) -> Any:
    """``af.run()`` with a progress bar counting scored samples (a terminal only, never piped)."""
    from ._progress import Progress

    with Progress(label="autofocus", enabled=enabled) as bar:
        previous = af.on_event

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "sample":
                bar.advance(note=f"z {_z_text(data['z_um'], unit, spacing_um)}")
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
    fit = fit_peak(zs, ss, mode=mode, test=False)
    if not math.isfinite(fit.second_z):
        return None
    return {"z_um": float(fit.second_z), "ratio": float(fit.second_ratio)}


def result_json(
    result: Any, twin: Any, mode: str | None = None, started_utc: str | None = None
) -> dict[str, Any]:
    """The ``autofocus --json`` object of a result (on the twin: in the stack's unit, with truth).

    It starts with ``"schema"`` (see :mod:`focuscam.cli._json`); ``started_utc`` (ISO 8601) is
    the wall-clock time the run started, when known; ``second_peak`` names a second, separate
    near-equal peak of the samples (or is null).
    """
    from ..types import ZUnit
    from ._json import versioned

    unit = twin.z_unit if twin is not None else ZUnit()
    out = versioned(result.to_dict(unit))
    if started_utc is not None:
        out["started_utc"] = started_utc
    if mode is None:
        brightfield = twin is not None and (twin.stack.modality or "").lower() == "brightfield"
        mode = "brightfield" if brightfield else "max"
    out["second_peak"] = _second_peak(result, mode)
    if twin is not None:
        out["stack"] = twin.stack.name
        truth = twin.stack.truth
        if truth is not None and result.z is not None:
            out["truth"] = truth
            out["within_tolerance"] = bool(abs(unit.from_um(result.z) - truth["z"]) <= truth["tolerance"])
    return out


def _report(
    args: argparse.Namespace,
    result: Any,
    twin: Any,
    regions: Any = None,
    *,
    started_utc: str | None = None,
    spacing_um: float = 0.0,
) -> None:
    from ..types import ZUnit

    unit = twin.z_unit if twin is not None else ZUnit()
    out = result_json(result, twin, args.mode, started_utc)
    if args.grid is not None:
        out.update(regions.to_dict() if regions is not None else {"regions": [], "tilt": None})
    if args.plot:
        from ..plot import save_curve_png

        save_curve_png(
            args.plot,
            [unit.from_um(z) for z, _ in result.samples],  # result.samples: (z_um, score) pairs
            [s for _, s in result.samples],
            z_unit=unit.name,
            peak=unit.from_um(result.target_z),
            measure=result.measure,
            truth=twin.stack.truth if twin is not None else None,
            title=f"autofocus ({result.strategy}): {result.state}",
        )
        out["plot"] = str(args.plot)
    if args.json:
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return
    where = _z_text(result.z, unit, spacing_um)
    if result.z is not None and unit.name != "um":
        where += f" ({_z_text(result.z, ZUnit(), spacing_um)})"
    head = "focused" if result.focused else "FAILED"
    print(f"{head} at z = {where}, confidence {result.confidence:.2f} ({result.strategy})")
    simulated = " (simulated)" if twin is not None else ""
    print(
        f"cost:  {result.frames} frames scored, {result.moves} moves, "
        f"travel {_z_text(result.travel_um, unit, spacing_um)}, {result.elapsed_s:.2f} s{simulated}"
    )
    print(f"why:   {result.reason}")
    if out["second_peak"] is not None:
        sp = out["second_peak"]
        print(f"warning: a second peak at {sp['z_um']:.6g} um is {100 * sp['ratio']:.0f}% as high")
    if "within_tolerance" in out:
        t = out["truth"]
        verdict = "within" if out["within_tolerance"] else "OUTSIDE"
        tz = _z_text(t["z"] * unit.um_per_unit, unit, spacing_um)
        print(f"truth: z = {tz} +- {t['tolerance']:.6g}: {verdict} tolerance")
    if args.record:
        print(f"recorded: {args.record}")
    if args.plot:
        print(f"plot:  {args.plot}")
    if args.grid is not None:
        print_regions(regions, label="regions:")
