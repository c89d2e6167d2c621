"""``focuscam demo``: closed-loop autofocus on the bundled sample recording (no hardware)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  focuscam demo
  focuscam demo --json
  focuscam demo --out recordings

Uses recordings/target_color from the source checkout (a synthetic focus stack made with
'focuscam synth'). Installed without the checkout (from a wheel), it generates the same stack
into a temporary folder first; '--out recordings' writes the sample recordings and
rig.example.toml into ./recordings instead and keeps them, so every README and --help example
that names recordings/... runs in this folder. Exit codes: 0 focused, 1 no clear focus.
"""

#: The bundled recording the demo uses, and the synth command that makes it when it is missing.
DEMO_RECORDING = "target_color"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="autofocus on the bundled sample recording with a simulated drive (no hardware needed)",
        description=(
            "Run focuscam's closed loop on an embedded default: a simulated focus drive moves "
            "through the bundled synthetic focus stack (the camera sees the recorded plane "
            "nearest to the drive), the default search strategy finds the focus peak with fewer "
            "frames than a full sweep, and the result is compared with the focus the stack was "
            "generated at."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write the sample recordings (target_color, cells_gray16) and rig.example.toml into "
        "DIR (created; nothing in it is overwritten) and run the demo on them",
    )
    parser.set_defaults(func=run)


def _shown(path: Path) -> str:
    """``path`` as a user would type it here: relative to the current folder when inside it."""
    import os

    try:
        return os.path.relpath(path) if Path.cwd() in path.resolve().parents else str(path)
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    from .._wallclock import utc_now
    from ..autofocus import Autofocus
    from ..samples import checkout_recordings, write_samples
    from ..search import DEFAULT_STRATEGY
    from ..stacks import load_stack
    from ..twin import make_twin

    started_utc = utc_now()
    recordings = checkout_recordings()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="focuscam-demo-") as tmp:
        generated = False
        if args.out is not None:
            recordings = write_samples(args.out)
            if not args.json:
                print(f"focuscam demo: wrote the sample recordings and rig.example.toml to {args.out}")
        elif recordings is None:
            generated = True
            if not args.json:
                print("focuscam demo: no sample recordings here (installed without the source checkout);")
                print("               generating the same synthetic stack into a temporary folder first ...")
            recordings = write_samples(tmp, names=(DEMO_RECORDING,))
        path = recordings / DEMO_RECORDING
        stack = load_stack(path)
        # Start the simulated drive at the low end of the recording, far from focus, so the
        # search has real work to do.
        source, drive = make_twin(stack, start_um=float(stack.z.min()))
        try:
            start = drive.position
            result = Autofocus(
                source, drive, strategy=DEFAULT_STRATEGY, resolution_um=source.spacing_um
            ).run()
        finally:
            source.close()
            drive.close()
    truth = stack.truth or {}
    z = None if result.z is None else result.z / source.scale_um
    off = abs(z - truth["z"]) if (z is not None and "z" in truth) else None
    within = off is not None and off <= truth["tolerance"]

    if args.json:
        from ._json import versioned

        out = versioned(result.to_dict())
        out.update(
            started_utc=started_utc,
            z=z,
            z_unit=stack.z_unit,
            start_um=start,
            recording=str(path) if not generated else f"generated: {stack.meta['generator']['command']}",
            name=stack.name,
            sweep_frames=len(stack),
            truth=stack.truth,
            within_tolerance=within,
            generated=generated,
        )
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return 0 if result.focused else 1

    from ..plot import format_z

    spacing = source.spacing_um / source.scale_um  # one plane, in the stack's unit (um here)
    h, w = stack.shape[:2]
    print("focuscam demo: closed-loop autofocus on a recorded focus stack (no hardware needed)")
    print(f"  recording:  {path if not generated else 'generated ' + stack.name}")
    print(
        f"              {len(stack)} planes {w}x{h}, z {stack.z.min():g}..{stack.z.max():g} um "
        f"(synthetic resolution target, made by 'focuscam synth')"
    )
    print(
        f"  loop:       simulated drive from z = {start:g} um, camera = the recorded plane nearest "
        f"to the drive; {result.strategy} search, measure {result.measure}"
    )
    if result.focused:
        print(
            f"  result:     focused at z = {format_z(z, spacing, 'um')}, confidence {result.confidence:.2f}; "
            f"{result.frames} frames scored (a full sweep scores {len(stack)}), {result.moves} moves, "
            f"{result.elapsed_s:.2f} s simulated"
        )
    else:
        print(f"  result:     FAILED to find a clear focus: {result.reason}")
    if off is not None:
        verdict = "within" if within else "OUTSIDE"
        print(
            f"  truth:      generated in focus at z = {truth['z']:g} um; the result is off by "
            f"{format_z(off, spacing, 'um')}, {verdict} the tolerance of {truth['tolerance']:g} um"
        )
    if generated:
        print("  next:       focuscam demo --out recordings   (keeps the sample recordings in ./recordings;")
        print("              then every README example that names recordings/... runs here)")
    else:
        shown = _shown(path)
        print(f"  next:       focuscam autofocus --source replay:{shown} --drive sim --plot curve.png")
        print(f"              focuscam select {shown} --plot curve.png   (see README)")
    return 0 if result.focused else 1
