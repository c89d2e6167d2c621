"""Best plane per region and the fitted tilt: a synthetic tilted stack, pcb_slanted, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from focuscam.measures import focus_map
from focuscam.regions import fit_plane, fit_regions, tile_boxes
from focuscam.synth import SynthParams, render_planes

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "stacks"
PCB = SHARED / "pcb_slanted"
Z_STEP = 1.0  # um per plane of the synthetic stack


def tilted_frames(sx: float, sy: float, *, width=256, height=192, seed=2):
    """A focus stack of a tilted sample, composited from a flat synthetic stack.

    Pixel (x, y) of composite frame i is pixel (x, y) of flat plane ``i + d``, with
    ``d = round(sx * (x - W/2) + sy * (y - H/2))`` planes: it is in focus when ``i + d`` is the
    flat stack's focal plane, so its best z is ``z_focus - d * Z_STEP``: the generating tilt is
    ``-sx * Z_STEP`` um per pixel along x and ``-sy * Z_STEP`` along y.
    """
    params = SynthParams(
        kind="target",
        color=False,
        planes=41,
        width=width,
        height=height,
        seed=seed,
        z_step=Z_STEP,
        z_focus=0.0,
    )
    flat, z, _ = render_planes(params)
    cube = np.stack(flat)
    yy, xx = np.mgrid[0:height, 0:width]
    d = np.rint(sx * (xx - width / 2) + sy * (yy - height / 2)).astype(int)
    frames, zs = [], []
    for i in range(8, 33):
        idx = np.clip(i + d, 0, len(flat) - 1)
        frames.append(np.ascontiguousarray(np.take_along_axis(cube, idx[None], axis=0)[0]))
        zs.append(float(z[i]))
    return frames, np.array(zs)


@pytest.fixture(scope="module")
def tilted():
    sx, sy = 8 / 256, -5 / 192
    frames, z = tilted_frames(sx, sy)
    return frames, z, (-sx * Z_STEP, -sy * Z_STEP)


def test_the_fitted_tilt_matches_the_generating_tilt(tilted):
    frames, z, (tx, ty) = tilted
    h, w = frames[0].shape
    maps = [focus_map(f, "lapv", (4, 4)) for f in frames]
    res = fit_regions(z, maps, (0, 0, w, h), z_unit="um")
    assert res.tilt is not None and res.tilt.significant, res.note
    assert res.tilt.unit == "um/px" and res.tilt.regions >= 12
    for got, se, want in ((res.tilt.x, res.tilt.se_x, tx), (res.tilt.y, res.tilt.se_y, ty)):
        assert abs(got - want) <= max(3 * se, 0.1 * abs(want)), (got, se, want)
    # best focus differs across the field by the generating span (within one plane step)
    assert res.tilt.span == pytest.approx(abs(tx) * w + abs(ty) * h, abs=2 * Z_STEP)
    # per um with a pixel size: the same plane, in um per um
    per_um = fit_regions(z, maps, (0, 0, w, h), z_unit="um", pixel_um=0.5)
    assert per_um.tilt.unit == "um/um"
    assert per_um.tilt.x == pytest.approx(res.tilt.x / 0.5, rel=1e-9)


def test_a_level_sample_shows_no_significant_tilt():
    frames, z = tilted_frames(0.0, 0.0, width=128, height=96)
    maps = [focus_map(f, "lapv", (3, 3)) for f in frames]
    res = fit_regions(z, maps, (0, 0, 128, 96), z_unit="um")
    assert res.tilt is not None and not res.tilt.significant, res.note
    assert "no significant tilt" in res.note


def test_fit_plane_recovers_an_exact_plane_and_refuses_a_line():
    pts = [(x, y, 2.0 + 0.1 * x - 0.3 * y) for x in (0, 10, 20) for y in (0, 5)]
    tilt = fit_plane(pts, centre=(10, 2.5), size=(30, 10), z_floor=0.01, z_unit="um", lateral="px")
    assert tilt.x == pytest.approx(0.1) and tilt.y == pytest.approx(-0.3) and tilt.z0 == pytest.approx(2.25)
    assert tilt.significant and tilt.rms == pytest.approx(0, abs=1e-12)
    assert fit_plane(pts[:2], centre=(0, 0), size=(1, 1), z_floor=0.1, z_unit="um", lateral="px") is None
    row = [(x, 0.0, 0.5 * x) for x in range(5)]  # one grid row: only the x slope is estimable
    line = fit_plane(row, centre=(2, 0), size=(5, 1), z_floor=0.01, z_unit="um", lateral="px")
    assert line.x == pytest.approx(0.5) and line.y is None
    diagonal = [(t, t, 0.2 * t) for t in range(4)]  # slanted line: the plane is not determined
    assert fit_plane(diagonal, centre=(0, 0), size=(4, 4), z_floor=0.01, z_unit="um", lateral="px") is None


def test_tile_boxes_are_the_focus_map_tiles():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (50, 70), dtype=np.uint8)
    roi = (3, 4, 61, 43)
    fmap = focus_map(frame, "teng", (3, 4), roi)
    from focuscam.measures import measure

    boxes = tile_boxes(roi, (3, 4))
    assert [measure(frame, "teng", b) for b in boxes] == list(fmap.ravel())


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "focuscam", *argv], capture_output=True, text=True, timeout=600
    )


@pytest.mark.skipif(not PCB.is_dir(), reason="the shared pcb_slanted stack is not here")
def test_pcb_slanted_regions_are_sharp_in_different_frames():
    proc = _cli("select", str(PCB), "--grid", "3x3", "--json")
    out = json.loads(proc.stdout)
    assert {"regions", "tilt", "grid"} <= set(out)
    assert out["grid"] == [3, 3] and len(out["regions"]) == 9
    best = np.array([r["index"] for r in out["regions"]]).reshape(3, 3)
    assert len(set(best.ravel())) >= 3  # no single best plane for the whole frame
    # the board is slanted: the top of the frame is sharp in later frames than the bottom
    assert best[0].mean() > best[2].mean()
    text = _cli("select", str(PCB), "--grid", "3x3")
    assert "best z per region" in text.stdout and "tilt:" in text.stdout


def test_select_and_autofocus_grid_json_on_a_tilted_stack(tilted, tmp_path):
    from focuscam.stacks import StackWriter

    frames, z, (tx, _ty) = tilted
    writer = StackWriter(tmp_path / "tilted", name="tilted", kind="z-sweep", z_unit="um")
    for f, zk in zip(frames, z, strict=True):
        writer.append(f, z=float(zk))
    writer.close()
    sel = json.loads(
        _cli("select", str(tmp_path / "tilted"), "--grid", "4x4", "--pixel-um", "0.5", "--json").stdout
    )
    assert sel["tilt"]["unit"] == "um/um" and sel["tilt"]["significant"]
    assert sel["tilt"]["x"] == pytest.approx(tx / 0.5, rel=0.25)
    assert all(math.isfinite(r["z"]) for r in sel["regions"])
    af = _cli(
        "autofocus", "--source", f"replay:{tmp_path / 'tilted'}", "--drive", "sim", "--grid", "2x2", "--json"
    )
    doc = json.loads(af.stdout)
    assert {"regions", "tilt"} <= set(doc) and len(doc["regions"]) == 4, af.stderr
    assert doc["tilt"] is None or doc["tilt"]["unit"] == "um/px"
