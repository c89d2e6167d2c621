"""``focuscam record``: record frames from a source into a focuscam-stack/1 folder."""

from __future__ import annotations

import argparse
import sys

from ._args import add_rig_argument, add_source_arguments

NAME = "record"

EPILOG = """\
source specs:
  camera:0  camera:/dev/video2  camera:rtsp://...  video:FILE  replay:STACK_DIR
  (a bare index or path works too)

examples:
  focuscam record --source camera:0 --out run1 --seconds 10
  focuscam record --source video:clip.avi --out clip_stack
  focuscam record --source replay:../shared/stacks/scorpion_lapse --out copy --frames 5

The stack (kind "sequence", PNG frames, per-frame t) is valid at every moment: Ctrl-C
(exit 130), a full disk or a dying camera (exit 3) keep every frame recorded so far.
"""


def source_options(args: argparse.Namespace) -> dict:
    """Options for open_source: --fps and --loop (only given ones, so others are not refused),
    and for a live camera the ``[camera]`` size, exposure, gain and fps of the --rig file."""
    opts: dict = {}
    if getattr(args, "fps", None) is not None:
        opts["fps"] = args.fps
    if getattr(args, "loop", False):
        opts["loop"] = True
    rig = getattr(args, "rig_config", None)
    scheme = str(args.source or "").partition(":")[0]
    if rig is not None and scheme in _NATIVE_UNITS:
        return {**opts, **_native_camera_options(scheme, rig.camera)}
    if rig is not None and _is_live_camera(args.source):
        cam = rig.camera
        if cam.size is not None:
            opts["width"], opts["height"] = cam.size
        if cam.exposure is not None:
            opts["exposure"] = cam.exposure
        if cam.gain is not None:
            opts["gain"] = cam.gain
        if cam.fps is not None:
            opts.setdefault("fps", cam.fps)
    return opts


#: source scheme -> {[camera] key: its option there} (exposure in the camera's own unit)
_NATIVE_UNITS = {
    "mm": {"exposure": "exposure_ms"},
    "picamera": {"size": ("width", "height"), "exposure": "exposure_us", "gain": "gain"},
}


def _native_camera_options(scheme: str, cam) -> dict:
    """The rig's [camera] settings for an mm: or picamera: source; one it cannot take is refused."""
    from ..errors import InputError

    names = _NATIVE_UNITS[scheme]
    opts: dict = {}
    for key in ("size", "exposure", "gain", "fps"):
        value = getattr(cam, key)
        if value is None:
            continue
        if key not in names:
            raise InputError(
                f"[camera] {key} does not apply to {scheme}: sources: drop it from the rig file "
                f"(set it in the camera's own configuration)"
            )
        target = names[key]
        if isinstance(target, tuple):
            opts[target[0]], opts[target[1]] = value
        else:
            opts[target] = value
    return opts


def _is_live_camera(spec: object) -> bool:
    """True for ``camera:...``, a bare camera index and a stream URL (not files or replays)."""
    text = str(spec or "").strip()
    return text.startswith("camera:") or text.isdigit() or "://" in text


def require_source(args: argparse.Namespace) -> None:
    """Refuse, in one line, a run with no source from --source or the --rig file."""
    from ..errors import InputError

    if getattr(args, "source", None) is None:
        raise InputError("no source: give --source SPEC (e.g. camera:0) or [camera] source in the --rig file")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="record frames from a camera, video or replay into a stack folder",
        description="Record frames from a source into a focuscam-stack/1 folder (kind 'sequence'), "
        "losslessly (PNG, 16-bit kept), with each frame's capture time.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser, parser.add_mutually_exclusive_group())
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="new stack folder, or X.ome.tif (must not exist)"
    )
    parser.add_argument(
        "--format",
        choices=("stack", "ome-tiff"),
        help="stack = focuscam-stack/1 folder of PNGs (default); ome-tiff = one OME-TIFF file "
        "(default for an --out ending in .ome.tif)",
    )
    parser.add_argument("--name", help="stack name (default: the folder name)")
    parser.add_argument("--description", default="", help="what the camera saw (stored in stack.json)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (out, frames, seconds, dropped, reason) instead of a summary",
    )
    add_rig_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..recorder import record
    from ..rig import apply_rig
    from ._progress import Progress

    args = apply_rig(args)
    require_source(args)
    with Progress(total=args.frames, label="recording", enabled=not args.json) as bar:
        result = record(
            args.source,
            args.out,
            frames=args.frames,
            seconds=args.seconds,
            name=args.name,
            description=args.description,
            on_frame=lambda count, frame: bar.update(count),
            source_opts=source_options(args),
            format=args.format,
        )
    if args.json:
        from ._json import dump_line

        out = {
            "out": str(result.path),
            "frames": result.frames,
            "seconds": result.seconds,
            "dropped": result.dropped,
            "reason": result.reason,
        }
        dump_line(out)
        return 0
    how = {"frames": "", "seconds": " (time limit)", "ended": " (the source ended)"}[result.reason]
    dropped = ""
    if result.dropped:
        dropped = f"; the source dropped {result.dropped} frames (writing was slower than the camera)"
    print(
        f"recorded {result.frames} frames in {result.seconds:.1f} s{how} to {result.path}{dropped}",
        file=sys.stderr,
    )
    return 0
