"""``focuscam move``: move a focus drive to a position (or by a distance) and print where it is."""

from __future__ import annotations

import argparse
import json
import sys

from ._args import BACKLASH_UM, SPEED_UM_S, STEPS_PER_UM, TIMEOUT_S, Z_UM, add_rig_argument, limits_type

EPILOG = """\
examples:
  focuscam move --drive sim --to 120
  focuscam move --drive grbl:/dev/ttyUSB0 --limits -500,500 --backlash 20 --to 35.5
  focuscam move --drive sangaboard:/dev/ttyACM0 --limits -2000,2000 --steps-per-um 2.5 --by -10 --json
  focuscam move --drive uvc:0 --to 120          (webcam focus units; range probed)

Positions are in um (UVC: focus units). Soft limits: --limits MIN,MAX is required for motor
drives (grbl, sangaboard, focuscam) -- there is no safe default for real optics; sim defaults
to -5000,5000 um and starts at 0 um in every run; uvc probes the camera's focus range.
A move outside the limits is refused before anything is sent: exit code 2 (bad input, the
motor did not move). Device failures exit 3; Ctrl-C stops the motor and exits 130.
A GRBL board in alarm is unlocked with $X only with --unlock (check the machine first).
"""

MOTOR_SCHEMES = ("grbl", "sangaboard", "focuscam", "mm")
FLAGS = {
    "limits": "--limits",
    "backlash_um": "--backlash",
    "steps_per_um": "--steps-per-um",
    "speed_um_s": "--speed",
    "timeout_s": "--timeout",
    "allow_unlock": "--unlock",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "move",
        help="move a focus drive and print the reached position (um)",
        description="Move a focus drive to Z (--to) or by DZ (--by), wait until the motion has "
        "finished, and print the position read back from the device, in um.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--drive",
        metavar="SPEC",
        help="sim, grbl:PORT, sangaboard:PORT, uvc:CAMERA or focuscam:PORT (required here or in --rig)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", type=Z_UM, metavar="Z", help=f"absolute target ({Z_UM.bounds})")
    target.add_argument("--by", type=Z_UM, metavar="DZ", help=f"relative move ({Z_UM.bounds})")
    parser.add_argument(
        "--limits",
        type=limits_type,
        metavar="MIN,MAX",
        help=f"soft limits ({Z_UM.bounds}; required for motor drives)",
    )
    parser.add_argument(
        "--backlash", type=BACKLASH_UM, metavar="UM", help=f"backlash compensation ({BACKLASH_UM.bounds})"
    )
    parser.add_argument(
        "--steps-per-um",
        type=STEPS_PER_UM,
        metavar="N",
        help=f"motor steps per um (sangaboard, focuscam; {STEPS_PER_UM.bounds})",
    )
    parser.add_argument(
        "--speed", type=SPEED_UM_S, metavar="UM_S", help=f"speed (sim, grbl; {SPEED_UM_S.bounds})"
    )
    parser.add_argument(
        "--timeout",
        type=TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for a device reply ({TIMEOUT_S.bounds})",
    )
    parser.add_argument("--unlock", action="store_true", help="GRBL: allow clearing an alarm with $X")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_rig_argument(parser)  # its [drive] table fills --drive, --limits, --backlash, --steps-per-um, --speed
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace, scheme: str) -> dict:
    from ..errors import InputError
    from ..types import ZLimits

    settings: dict = {}
    if args.limits is not None:
        lim = args.limits if isinstance(args.limits, ZLimits) else ZLimits.parse(args.limits)
        settings["limits"] = (lim.lo, lim.hi)
    elif scheme in MOTOR_SCHEMES:
        raise InputError(
            f"--limits is required for {scheme} drives: give MIN,MAX in um, the range the optics "
            f"may travel safely, e.g. --limits -500,500"
        )
    if args.backlash is not None:
        settings["backlash_um"] = args.backlash
    if args.steps_per_um is not None:
        settings["steps_per_um"] = args.steps_per_um
    if args.speed is not None:
        settings["speed_um_s"] = args.speed
    if args.timeout is not None:
        settings["timeout_s"] = args.timeout
    if args.unlock:
        settings["allow_unlock"] = True
    return settings


def _check_before_opening(args: argparse.Namespace, settings: dict) -> None:
    """Refuse a move that the limits rule out before the port is opened (opening a GRBL board
    soft-resets and queries it): ``--to`` outside the limits, ``--by`` longer than their span."""
    from ..drives.base import outside_limits
    from ..errors import InputError
    from ..types import ZLimits

    if "limits" not in settings:
        return  # sim and uvc: the driver's own limits (defaults, probed range) apply
    lim = ZLimits(*settings["limits"])
    if args.to is not None and not lim.contains(args.to):
        raise InputError(str(outside_limits(f"move_to({args.to:g} um)", lim)))
    if args.by is not None and abs(args.by) > lim.hi - lim.lo:
        raise InputError(
            f"move_by({args.by:g} um) is longer than the soft limits [{lim.lo:g}, {lim.hi:g}] um "
            f"allow from anywhere inside them: choose a shorter move or widen the limits"
        )


def run(args: argparse.Namespace) -> int:
    from ..drives import open_drive
    from ..drives.spec import driver_settings, parse_spec
    from ..errors import Aborted, InputError, LimitError
    from ..rig import apply_rig
    from ._halt import interrupted

    args = apply_rig(args)
    if args.drive is None:
        raise InputError("no drive: give --drive SPEC (e.g. sim) or [drive] spec in the --rig file")
    scheme, _ = parse_spec(args.drive)
    settings = _settings(args, scheme)
    accepted = driver_settings(scheme)
    for key in settings:
        if key not in accepted:
            raise InputError(f"{FLAGS[key]} does not apply to {scheme} drives: drop it")
    _check_before_opening(args, settings)
    drive = open_drive(args.drive, **settings)
    with drive:
        if not drive.position_known:
            drive.resync()
        try:
            base = drive.relative_base() if args.by is not None else None
            on_device = args.by is not None and drive.adds_on_device(args.by)
            z = drive.move_to(args.to) if args.to is not None else drive.move_by(args.by)
        except LimitError as exc:
            # nothing was sent: a bad request, so exit 2 like other bad input
            raise InputError(str(exc)) from exc
        except (KeyboardInterrupt, Aborted):
            raise interrupted(drive) from None
        note = None if base is None else grid_note(drive, base, args.by, on_device=on_device)
        if note:
            print(note, file=sys.stderr)
        lim = drive.limits
        if args.json:
            from ._json import versioned

            doc = {"z": z, "unit": "um", "drive": args.drive, "limits": [lim.lo, lim.hi]}
            print(json.dumps(versioned(doc)))
        else:
            from ..plot import format_z

            grid = float(getattr(drive, "resolution_um", 0.0) or 0.0)
            print(format_z(z, grid if grid > 0 else None, "um"))  # to a tenth of a step (default 3 decimals)
    return 0


def grid_note(drive, base: float, dz: float, *, on_device: bool = False) -> str | None:
    """One line when ``move --by`` could not go exactly ``dz`` um from ``base`` (um): the target
    was off the drive's step grid, and whether the next process adds to it or starts afresh;
    ``on_device``: the device added ``dz`` to the target it kept (``base`` is its read-back)."""
    sent, grid = drive.commanded_um, float(getattr(drive, "resolution_um", 0.0) or 0.0)
    wanted = base + dz
    if sent is None or grid <= 0 or abs(sent - wanted) <= 1e-6 * grid:
        return None
    if on_device:
        return (
            f"note: moved to {sent:g} um, the nearest point of its {grid:g} um step grid: "
            f"{drive.scheme} added {dz:g} um to the target it keeps (within half a step of "
            f"{base:g} um, where it was), and a later --by adds to the new one, so rounding to "
            f"the grid does not add up"
        )
    grid_text = f"the nearest point of the drive's {grid:g} um step grid inside the limits"
    if drive.keeps_target:
        return (
            f"note: moved to {sent:g} um, not {wanted:g} um: {grid_text}; the drive keeps {wanted:g} um "
            f"as its target, so a later --by adds to it without rounding"
        )
    return (
        f"note: moved by {sent - base:g} um, not {dz:g}, to {sent:g} um: {grid_text}; {drive.scheme} "
        f"drives do not keep the commanded target between runs, so a later --by starts from "
        f"{sent:g} um (--to gives exact targets)"
    )
