"""``focuscam rig check RIG.toml [--json] [--connect]``: validate a rig file, probe its hardware.

Without ``--connect`` the camera and drive are opened only when they look present (a serial
port or video device that exists, a recording on disk, the simulated drive); with
``--connect`` both are always opened and a failure is an error. Exit codes: 0 the file is
valid (and what was opened worked), 2 the file is invalid, 3 a device failed to open.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

EXAMPLES = """\
examples:
  focuscam rig check recordings/rig.example.toml
  focuscam rig check my-rig.toml --json
  focuscam rig check my-rig.toml --connect      # open the camera and drive even if they look absent

exit codes: 0 valid, 2 invalid file (one line naming the file, key and what is allowed),
3 the camera or drive failed to open.
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rig",
        help="check a rig file (camera, drive and autofocus defaults)",
        description="Work with rig files: TOML files that hold a rig's camera, drive and autofocus defaults.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="rig_command", metavar="ACTION", parser_class=type(parser))
    check = sub.add_parser(
        "check",
        help="validate a rig file and report the hardware it finds",
        description=(
            "Validate a rig file; when its camera and drive are there (or with --connect), open "
            "them and report what was found: frame size and fps, drive position and limits."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("rig_file", metavar="RIG.toml", help="the rig file to check")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument(
        "--connect",
        action="store_true",
        help="open the camera and the drive even when they do not look present; failures exit 3",
    )
    check.set_defaults(func=run_check)
    parser.set_defaults(func=_no_action(parser))


def _no_action(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace) -> int:
        parser.error("give an action: 'check RIG.toml'")
        return 2  # pragma: no cover - error() exits

    return run


# --------------------------------------------------------------------------- presence
def _camera_present(spec: str) -> bool | None:
    """Whether the camera/recording of a source spec looks present (None: cannot tell)."""
    scheme, sep, target = spec.partition(":")
    if not sep:
        scheme, target = ("camera", spec) if spec.strip().isdigit() else ("path", spec)
    if scheme == "camera":
        if target.strip().isdigit():
            return Path(f"/dev/video{int(target)}").exists()
        return Path(target).exists()
    if scheme in ("video", "replay", "path"):
        return Path(target).exists()
    return None


def _drive_present(spec: str) -> bool | None:
    """Whether the device of a drive spec looks present (None: cannot tell, e.g. a URL)."""
    scheme, _, target = spec.partition(":")
    if scheme.lower() == "sim":
        return True
    if scheme.lower() == "uvc":
        return Path(f"/dev/video{int(target)}").exists() if target.isdigit() else Path(target).exists()
    if re.match(r"^[a-z][a-z0-9+.-]*://", target):
        return None
    return Path(target).exists() if target else None


# --------------------------------------------------------------------------- probing
def _probe_camera(spec: str) -> dict[str, Any]:
    from ..errors import SourceError

    try:
        from .. import sources
    except ModuleNotFoundError as exc:
        if exc.name != "focuscam.sources":
            raise
        sources = None
    open_source = getattr(sources, "open_source", None)
    if open_source is None:
        raise SourceError(
            f"cannot open camera {spec!r}: this build of focuscam has no focuscam.sources.open_source; "
            "update focuscam"
        )
    with open_source(spec) as src:
        frame = src.read(5.0)
        pixels = frame.pixels
        out: dict[str, Any] = {
            "size": [int(pixels.shape[1]), int(pixels.shape[0])],
            "channels": 1 if pixels.ndim == 2 else int(pixels.shape[2]),
            "dtype": str(pixels.dtype),
        }
        fps = getattr(src, "fps", None)
        out["fps"] = float(fps) if isinstance(fps, int | float) and fps > 0 else None
    return out


def _probe_drive(spec: str, settings: dict[str, Any], rig_file: str) -> dict[str, Any]:
    from ..drives import open_drive
    from ..errors import InputError

    try:
        drive = open_drive(spec, **settings)
    except InputError as exc:
        raise InputError(f"{rig_file}: [drive] {exc}") from None
    with drive:
        z = drive.position
        lim = drive.limits
        return {"position_um": float(z), "limits_um": [lim.lo, lim.hi]}


def _section(kind: str, spec: str | None, connect: bool, probe) -> dict[str, Any]:
    if spec is None:
        return {"spec": None, "present": None, "connected": False, "note": f"no {kind} in the rig file"}
    present = (_camera_present if kind == "camera" else _drive_present)(spec)
    out: dict[str, Any] = {"spec": spec, "present": present, "connected": False}
    if not connect and not present:
        out["note"] = (
            "not found; not opened (use --connect to try anyway)"
            if present is False
            else "presence unknown; not opened (use --connect to open it)"
        )
        return out
    out.update(probe())
    out["connected"] = True
    return out


def _size_note(camera: dict[str, Any], size: tuple[int, int] | None) -> None:
    """Note (not an error: drivers may not take a size) when the camera's size differs from the rig's."""
    if camera.get("connected") and size is not None and camera["size"] != list(size):
        w, h = camera["size"]
        camera["note"] = f"the rig says size = [{size[0]}, {size[1]}] but the camera delivers {w}x{h}"


# --------------------------------------------------------------------------- command
def run_check(args: argparse.Namespace) -> int:
    from ..rig import load_rig

    rig = load_rig(args.rig_file)
    rig_file = str(rig.path)
    camera = _section("camera", rig.camera.source, args.connect, lambda: _probe_camera(rig.camera.source))
    drive = _section(
        "drive",
        rig.drive.spec,
        args.connect,
        lambda: _probe_drive(rig.drive.spec, rig.drive.settings(), rig_file),
    )
    _size_note(camera, rig.camera.size)
    report = {"file": rig_file, "valid": True, "rig": rig.to_dict(), "camera": camera, "drive": drive}
    if args.json:
        from ._json import versioned

        print(json.dumps(versioned(report)))
    else:
        _print_text(report, rig.name)
    return 0


def _print_text(report: dict[str, Any], name: str | None) -> None:
    out = sys.stdout
    title = f" ({name})" if name else ""
    print(f"{report['file']}{title}: valid", file=out)
    cam = report["camera"]
    if cam["connected"]:
        w, h = cam["size"]
        fps = f", {cam['fps']:g} fps" if cam.get("fps") else ""
        print(f"  camera  {cam['spec']}: opened, {w}x{h} {cam['dtype']}{fps}", file=out)
        if cam.get("note"):
            print(f"          note: {cam['note']}", file=out)
    else:
        print(f"  camera  {cam['spec'] or '-'}: {cam['note']}", file=out)
    drv = report["drive"]
    if drv["connected"]:
        lo, hi = drv["limits_um"]
        print(
            f"  drive   {drv['spec']}: opened, position {drv['position_um']:g} um, "
            f"limits [{lo:g}, {hi:g}] um",
            file=out,
        )
    else:
        print(f"  drive   {drv['spec'] or '-'}: {drv['note']}", file=out)
    af = report["rig"]["autofocus"]
    given = {k: v for k, v in af.items() if v is not None}
    if given:
        print("  autofocus " + ", ".join(f"{k}={v}" for k, v in given.items()), file=out)
