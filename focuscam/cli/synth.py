"""``focuscam synth``: generate a synthetic focus stack with a known true focus."""

from __future__ import annotations

import argparse
from typing import Any

from ._args import BLUR_PER_UM, PHOTONS, PLANES, READ_NOISE, SEED, Z_STEP_UM, Z_UM

#: The largest side of a synthetic frame in pixels (the whole frame is also capped at 40 MP).
MAX_SIDE = 20_000

EPILOG = """\
examples:
  focuscam synth --out target_stack
  focuscam synth --out cells16 --kind cells --gray16 --planes 21 --size 256x192 --seed 3
  focuscam synth --out noisy --photons 300 --read-noise 8 --z-focus 4.5
  focuscam synth --out small --planes 9 --size 64x48 --json

The scene is blurred by a defocus PSF whose radius grows with |z - z_focus| and gets Poisson
shot noise and Gaussian read noise. z is in um, centred on 0. stack.json records the exact
command that regenerates the stack and the true focus (truth.z, tolerance = one plane step).
"""


def _size_arg(text: str) -> tuple[int, int]:
    parts = str(text).lower().split("x")
    try:
        w, h = (int(p) for p in parts) if len(text) <= 40 else (0, 0, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not WxH: give e.g. 640x480") from None
    if not (32 <= w <= MAX_SIDE and 32 <= h <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: give 32x32 to {MAX_SIDE}x{MAX_SIDE}")
    return w, h


_size_arg.numeric = True  # type: ignore[attr-defined]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic focus stack (known true focus) for testing and demos",
        description=(
            "Render a procedural scene (a resolution-target-like chart or cell-like blobs) through "
            "a defocusing lens at evenly spaced focus positions, add realistic sensor noise, and "
            "write a focuscam-stack/1 folder."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="stack folder to write")
    parser.add_argument(
        "--kind", choices=("target", "cells"), default="target", help="scene (default target)"
    )
    depth = parser.add_mutually_exclusive_group()
    depth.add_argument("--color", dest="color", action="store_true", default=True, help="8-bit BGR (default)")
    depth.add_argument("--gray16", dest="color", action="store_false", help="16-bit gray")
    parser.add_argument(
        "--planes", type=PLANES, default=41, metavar="N", help=f"focus planes ({PLANES.bounds}; default 41)"
    )
    parser.add_argument("--size", type=_size_arg, default=(640, 480), metavar="WxH", help="default 640x480")
    parser.add_argument(
        "--seed", type=SEED, default=0, metavar="S", help=f"random seed ({SEED.bounds}; default 0)"
    )
    parser.add_argument(
        "--z-step",
        type=Z_STEP_UM,
        default=1.0,
        metavar="UM",
        help=f"plane spacing ({Z_STEP_UM.bounds}; default 1)",
    )
    parser.add_argument(
        "--z-focus",
        type=Z_UM,
        default=None,
        metavar="UM",
        help=f"true focus ({Z_UM.bounds}; default: drawn from the seed)",
    )
    parser.add_argument(
        "--blur-per-um",
        type=BLUR_PER_UM,
        default=0.6,
        metavar="PX",
        help=f"blur radius per um of defocus ({BLUR_PER_UM.bounds}; default 0.6)",
    )
    parser.add_argument(
        "--photons",
        type=PHOTONS,
        default=4000.0,
        metavar="E",
        help=f"electrons at full-scale white ({PHOTONS.bounds}; default 4000)",
    )
    parser.add_argument(
        "--read-noise",
        type=READ_NOISE,
        default=3.0,
        metavar="E",
        help=f"read noise ({READ_NOISE.bounds}; default 3)",
    )
    parser.add_argument("--name", default=None, help="stack name (default: the folder name)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (out, planes, truth, size [w, h], dtype, bytes) instead of a summary",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ..synth import SynthParams, synth_stack

    width, height = args.size
    params = SynthParams(
        kind=args.kind,
        color=args.color,
        planes=args.planes,
        width=width,
        height=height,
        seed=args.seed,
        z_step=args.z_step,
        z_focus=args.z_focus,
        blur_per_um=args.blur_per_um,
        photons=args.photons,
        read_noise=args.read_noise,
    )
    params.validate()
    from ._progress import Progress

    with Progress(params.planes, label="synth planes", enabled=not args.json) as bar:  # a terminal only
        out = synth_stack(args.out, params, name=args.name, on_plane=lambda done, _total: bar.update(done))
    meta = json.loads((out / "stack.json").read_text(encoding="utf-8"))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    truth = meta["truth"]
    if args.json:
        doc = {
            "out": str(out),
            "planes": params.planes,
            "truth": truth,
            "size": [width, height],
            "dtype": "uint8" if params.color else "uint16",
            "bytes": size,
        }
        from ._json import dump_line

        dump_line(doc)
        return 0
    print(
        f"wrote {out}: {params.planes} planes {width}x{height} "
        f"{'8-bit colour' if params.color else '16-bit gray'} {params.kind}, "
        f"z {meta['frames'][0]['z']:g}..{meta['frames'][-1]['z']:g} um, "
        f"true focus z = {truth['z']:g} um, {size / 1e6:.1f} MB"
    )
    return 0
