"""A generated archive of many small focus stacks (focuscam.synth), fast, with broken ones mixed in.

One sharp scene is rendered once (``synth.make_scene``) and blurred once per defocus distance
(``synth.defocus_psf``); every stack is a different crop of those blurred scenes with its own
in-focus plane and its own sensor noise, written as one multi-page TIFF (one file per stack:
fast to write, and it exercises the page-by-page reader). A few stacks are real
focuscam-stack/1 folders from ``synth.synth_stack`` (with truth), and a few are broken on
purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from focuscam.synth import SynthParams, defocus_psf, make_scene, synth_stack

PLANES = 9
SIDE = 48
BLUR_PX_PER_PLANE = 1.2


@dataclass
class Archive:
    root: Path
    #: absolute path -> index of the in-focus plane (TIFF stacks: z = frame index)
    focus: dict[str, int] = field(default_factory=dict)
    #: absolute path -> true focus in um (stack folders with truth)
    truth: dict[str, float] = field(default_factory=dict)
    #: absolute paths of the stacks broken on purpose
    broken: list[str] = field(default_factory=list)
    #: absolute path -> 16-bit frames of a TIFF stack (for export checks)
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @property
    def all(self) -> set[str]:
        return set(self.focus) | set(self.truth) | set(self.broken)


def _blurred_scenes(seed: int) -> list[np.ndarray]:
    scene = make_scene("cells", 320, 320, color=False, seed=seed)[..., 0]
    return [
        cv2.filter2D(scene, -1, defocus_psf(BLUR_PX_PER_PLANE * k), borderType=cv2.BORDER_REFLECT)
        for k in range(PLANES)
    ]


def _crop_with_detail(sharp: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A crop whose sharp view has detail (a crop of empty background has no focus to find)."""
    h, w = sharp.shape
    best = (0, 0, -1.0)
    for _ in range(8):
        y, x = int(rng.integers(0, h - SIDE)), int(rng.integers(0, w - SIDE))
        spread = float(sharp[y : y + SIDE, x : x + SIDE].std())
        if spread > best[2]:
            best = (y, x, spread)
    return best[0], best[1]


def make_archive(root: Path, n_tiff: int = 200, n_folders: int = 4, seed: int = 0) -> Archive:
    """``n_tiff`` TIFF stacks in plate/well folders, ``n_folders`` synth stack folders, broken ones."""
    arch = Archive(root=root)
    rng = np.random.default_rng(seed)
    blurred = _blurred_scenes(seed)
    for i in range(n_tiff):
        focus = int(rng.integers(2, PLANES - 2))
        y, x = _crop_with_detail(blurred[0], rng)
        photons = 3000.0
        frames = []
        for j in range(PLANES):
            radiance = blurred[abs(j - focus)][y : y + SIDE, x : x + SIDE]
            electrons = rng.poisson(np.clip(radiance, 0, None) * photons) + rng.normal(0, 3.0, radiance.shape)
            frames.append(np.clip(np.rint(100 + electrons * 16.0), 0, 65535).astype(np.uint16))
        path = root / f"plate{i // 96}" / f"well{i % 96:02d}" / f"field{i % 3}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwritemulti(str(path), frames)
        arch.focus[str(path.resolve())] = focus
        arch.frames[str(path.resolve())] = frames
    for k in range(n_folders):
        params = SynthParams(kind="target", color=bool(k % 2), planes=11, width=64, height=48, seed=k)
        out = synth_stack(root / "folders" / f"stack{k}", params)
        arch.truth[str(out.resolve())] = params.true_focus()
    _add_broken(root / "plate0" / "well00", arch)
    return arch


def _add_broken(where: Path, arch: Archive) -> None:
    """Broken stacks of every kind a user meets, beside good ones."""
    where.mkdir(parents=True, exist_ok=True)
    corrupt = where / "corrupt.tif"
    corrupt.write_bytes(b"this is not a TIFF at all")
    mixed = where / "mixed_shapes.tif"
    cv2.imwritemulti(str(mixed), [np.zeros((32, 32), np.uint8), np.zeros((16, 16), np.uint8)])
    bad_json = where.parent / "bad_json"
    (bad_json / "frames").mkdir(parents=True)
    (bad_json / "stack.json").write_text("{not json", encoding="utf-8")
    missing = where.parent / "missing_frame"
    (missing / "frames").mkdir(parents=True)
    (missing / "stack.json").write_text(
        json.dumps(
            {
                "format": "focuscam-stack/1",
                "name": "missing_frame",
                "kind": "z-sweep",
                "z_unit": "um",
                "frames": [{"file": "frames/000000.png", "z": 0.0}],
                "truth": None,
            }
        ),
        encoding="utf-8",
    )
    truncated = where.parent / "truncated_png"
    truncated.mkdir()
    for k in range(4):
        _, data = cv2.imencode(".png", np.full((32, 32), 40 * k, np.uint8))
        (truncated / f"img{k}.png").write_bytes(data.tobytes()[: 30 if k == 2 else None])
    arch.broken += [str(p.resolve()) for p in (corrupt, mixed, bad_json, missing, truncated)]
