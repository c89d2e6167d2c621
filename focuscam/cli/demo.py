"""``focuscam demo``: pick the sharpest plane of the bundled sample recording (no hardware)."""

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
        help="select the sharpest plane of the bundled sample recording (no hardware needed)",
        description=(
            "Run focuscam on an embedded default: score every plane of the bundled synthetic "
            "focus stack with the variance of the Laplacian, fit the focus peak, and compare the "
            "result with the focus the stack was generated at."
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
    from ..select import select_plane
    from ..stacks import load_stack

    path = bundled_recordings() / DEMO_RECORDING
    with tempfile.TemporaryDirectory(prefix="focuscam-demo-") as tmp:
        generated = not (path / "stack.json").is_file()
        if generated:
            if not args.json:
                print(f"focuscam demo: {path} is not here (installed without the source checkout);")
                print("               generating the same synthetic stack with 'focuscam synth' first ...")
            path = _generate(Path(tmp))
        stack = load_stack(path)
        result = select_plane(stack)
    truth = stack.truth or {}
    off = abs(result.z - truth["z"]) if "z" in truth else None
    within = off is not None and off <= truth["tolerance"]

    if args.json:
        out = result.to_dict()
        out.update(
            recording=str(path) if not generated else f"generated: {stack.meta['generator']['command']}",
            name=stack.name,
            frames=len(stack),
            truth=stack.truth,
            within_tolerance=within,
            generated=generated,
        )
        json.dump(out, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return 0 if result.focused else 1

    h, w = stack.shape[:2]
    print("focuscam demo: selecting the sharpest plane of a recorded focus stack (no hardware needed)")
    print(f"  recording:  {path if not generated else 'generated ' + stack.name}")
    print(
        f"              {len(stack)} planes {w}x{h}, z {stack.z.min():g}..{stack.z.max():g} um "
        f"(synthetic resolution target, made by 'focuscam synth')"
    )
    print(f"  measure:    {result.measure} (variance of the Laplacian) on the whole frame, bin {result.bin}")
    if result.focused:
        print(
            f"  result:     focused at z = {result.z:.3f} um (fitted between planes; sharpest plane "
            f"{result.index} at {result.z_sample:g} um), confidence {result.confidence:.2f}"
        )
    else:
        print(f"  result:     FAILED to find a clear focus: {result.reason}")
    if off is not None:
        verdict = "within" if within else "OUTSIDE"
        print(
            f"  truth:      generated in focus at z = {truth['z']:g} um; the result is off by "
            f"{off:.3f} um, {verdict} the tolerance of {truth['tolerance']:g} um"
        )
    print("  next:       focuscam select <stack> --plot curve.png   (your own stacks; see README)")
    return 0 if result.focused else 1
