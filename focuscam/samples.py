"""The sample recordings: the stacks in the checkout's ``recordings/``, made anywhere on demand.

A source checkout has ``recordings/target_color`` and ``recordings/cells_gray16`` (synthetic
stacks made by ``focuscam synth``) and ``recordings/rig.example.toml``. An installed wheel has
no checkout, so :func:`write_samples` makes the very same files (the synthesis is seeded: the
pixels are bit for bit those of the checkout, which a test checks) in a folder the user names:
``focuscam demo --out recordings`` makes every README and ``--help`` example that names
``recordings/...`` work in the current folder.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import InputError
from .synth import SynthParams

__all__ = ["SAMPLES", "checkout_recordings", "rig_example_text", "write_samples"]

#: name -> the parameters that made each bundled recording (their stack.json "generator").
SAMPLES: dict[str, SynthParams] = {
    "target_color": SynthParams(
        kind="target", color=True, planes=25, width=320, height=240, seed=1, z_step=1.5,
        z_focus=-2.526, blur_per_um=0.6, photons=20000.0, read_noise=3.0,
    ),
    "cells_gray16": SynthParams(
        kind="cells", color=False, planes=21, width=192, height=144, seed=2, z_step=0.5,
        z_focus=-1.897, blur_per_um=1.2, photons=3000.0, read_noise=2.0,
    ),
}  # fmt: skip

RIG_EXAMPLE = "rig.example.toml"


def checkout_recordings() -> Path | None:
    """The checkout's ``recordings/`` folder beside the package, or None (an installed wheel).

    ``FOCUSCAM_RECORDINGS`` overrides it (tests use it to play a wheel install).
    """
    override = os.environ.get("FOCUSCAM_RECORDINGS")
    folder = Path(override) if override else Path(__file__).resolve().parents[1] / "recordings"
    return folder if (folder / "target_color" / "stack.json").is_file() else None


def rig_example_text() -> str:
    """The text of ``rig.example.toml`` (shipped in the package)."""
    return resources.files("focuscam").joinpath("data", RIG_EXAMPLE).read_text(encoding="utf-8")


def write_samples(out: str | os.PathLike[str], *, names: tuple[str, ...] | None = None) -> Path:
    """Write the sample recordings and ``rig.example.toml`` into the folder ``out``; return it.

    ``out`` may exist; nothing in it is overwritten or removed: a sample already there is an
    InputError naming it (remove it, or choose another folder).
    """
    from .synth import synth_stack

    folder = Path(out)
    chosen = tuple(SAMPLES) if names is None else names
    targets = [folder / n for n in chosen] + [folder / RIG_EXAMPLE]
    taken = [p for p in targets if p.exists() or p.is_symlink()]
    if taken:
        raise InputError(
            f"{taken[0]} already exists: focuscam never overwrites it; remove it or give another --out"
        )
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out {folder} is not a folder: give a folder for the sample recordings")
    folder.mkdir(parents=True, exist_ok=True)
    for name in chosen:
        synth_stack(folder / name, SAMPLES[name], name=name)
    (folder / RIG_EXAMPLE).write_text(rig_example_text(), encoding="utf-8")
    return folder
