"""``focuscam demo``: closed-loop autofocus on the bundled sample recording (no hardware)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  focuscam demo
  focuscam demo --json

Uses recordings/target_color from the source checkout (a synthetic focus stack made with
'focuscam synth'); when focuscam is installed without the checkout, it generates the same
stack into a temporary folder first (FOCUSCAM_RECORDINGS=DIR points it at another
recordings folder). Exit codes: 0 focused, 1 no clear focus.
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
    parser.set_defaults(func=run)


def bundled_recordings() -> Path:
    """The ``recordings/`` folder beside the package (present in a source checkout).

    The environment variable ``FOCUSCAM_RECORDINGS`` overrides it (tests use it to exercise the
    fallback that generates the stack).
    """
    import os

    import focuscam

    override = os.environ.get("FOCUSCAM_RECORDINGS")
    if override:
        return Path(override)
    return Path(focuscam.__file__).resolve().parents[1] / "recordings"


def _generate(folder: Path) -> Path:
    from ..synth import SynthParams, synth_stack

    params = SynthParams(
        kind="target", color=True, planes=25, width=320, height=240, seed=1, z_step=1.5, photons=20000.0
    )
    return synth_stack(folder / DEMO_RECORDING, params)


def run(args: argparse.Namespace) -> int:
    from ..autofocus import Autofocus
    from ..search import DEFAULT_STRATEGY
    from ..stacks import load_stack
    from ..twin import make_twin

    path = bundled_recordings() / DEMO_RECORDING
    with tempfile.TemporaryDirectory(prefix="focuscam-demo-") as tmp:
        generated = not (path / "stack.json").is_file()
        if generated:
            if not args.json:
                print(f"focuscam demo: {path} is not here (installed without the source checkout);")
                print("               generating the same synthetic stack with 'focuscam synth' first ...")
            path = _generate(Path(tmp))
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
        out = result.to_dict()
        out.update(
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
            f"  result:     focused at z = {z:.3f} um, confidence {result.confidence:.2f}; "
            f"{result.frames} frames scored (a full sweep scores {len(stack)}), {result.moves} moves, "
            f"{result.elapsed_s:.2f} s simulated"
        )
    else:
        print(f"  result:     FAILED to find a clear focus: {result.reason}")
    if off is not None:
        verdict = "within" if within else "OUTSIDE"
        print(
            f"  truth:      generated in focus at z = {truth['z']:g} um; the result is off by "
            f"{off:.3f} um, {verdict} the tolerance of {truth['tolerance']:g} um"
        )
    print("  next:       focuscam autofocus --source replay:recordings/target_color --drive sim --plot c.png")
    print("              focuscam select <stack> --plot curve.png   (see README)")
    return 0 if result.focused else 1
