"""OME-TIFF through tifffile: z from the OME metadata (plane positions, PhysicalSizeZ, units),
16-bit kept, channels and time points chosen and never mixed; focuscam's OME-TIFF writer
(z per plane, times, scores as annotations) round-tripped, and the CLI on both."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import tifffile
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.errors import InputError, StackError
from focuscam.ometiff import OmeTiffWriter, load_tiff, open_writer
from focuscam.stacks import StackWriter, load_stack

CELLS16 = REPO / "recordings" / "cells_gray16"
TARGET = REPO / "recordings" / "target_color"


def _frames(n=5, shape=(24, 32), dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype) for _ in range(n)]


def _ome(path):
    with tifffile.TiffFile(path) as tf:
        assert tf.is_ome
        root = ET.fromstring(tf.ome_metadata)
        return tf.series[0].axes, tf.series[0].shape, root


def _find(root, tag):
    return [e for e in root.iter() if e.tag.endswith("}" + tag)]


# ---------------------------------------------------------------------- writer round trip
def test_round_trip_of_a_16_bit_z_sweep_with_times_truth_and_scores(tmp_path):
    frames = _frames()
    z = [-2.0, -1.0, 0.5, 1.0, 2.5]
    t = [100.0, 100.25, 100.5, 101.0, 101.75]
    truth = {"z": 0.5, "tolerance": 0.5, "basis": "test"}
    path = tmp_path / "sweep.ome.tif"
    with OmeTiffWriter(path, name="sweep", kind="z-sweep", z_unit="um", truth=truth) as w:
        for img, zv, tv in zip(frames, z, t, strict=True):
            w.append(img, z=zv, t=tv)
        w.extra["autofocus"] = {"measure": "lapv", "scores": [1.0, 2.0, 9.5, 3.0, 1.5]}
    assert not (tmp_path / "sweep.ome.tif.partial.tif").exists()
    axes, shape, root = _ome(path)
    assert axes == "ZYX" and shape == (5, 24, 32)
    planes = _find(root, "Plane")
    assert [float(p.get("PositionZ")) for p in planes] == z
    assert {p.get("PositionZUnit") for p in planes} == {"µm"}
    keys = {m.get("K"): m.text for m in _find(root, "M")}
    assert keys["score.2"] == "9.5" and "focuscam" in keys  # scores readable in Fiji/OMERO
    assert _find(root, "Image")[0].get("Name") == "sweep"

    stack = load_stack(path)
    assert stack.z_unit == "um" and stack.kind == "z-sweep" and stack.name == "sweep"
    np.testing.assert_array_equal(stack.z, z)
    np.testing.assert_allclose(stack.t, t)
    assert stack.truth == truth
    assert stack.meta["autofocus"]["scores"][2] == 9.5
    for a, b in zip(frames, stack.images(), strict=True):
        assert b.dtype == np.uint16
        np.testing.assert_array_equal(a, b)


def test_round_trip_of_colour_frames_keeps_bgr(tmp_path):
    src = load_stack(TARGET)
    path = tmp_path / "c.ome.tiff"
    with open_writer(path, name="c", kind="z-sweep", z_unit="um") as w:
        assert isinstance(w, OmeTiffWriter)
        for k in range(3):
            w.append(src.image(k), z=float(src.z[k]))
    axes, _, root = _ome(path)
    assert axes == "ZYXS"
    pixels = _find(root, "Pixels")[0]  # evenly spaced planes: the voxel depth for Fiji
    assert (
        float(pixels.get("PhysicalSizeZ")) == pytest.approx(1.5) and pixels.get("PhysicalSizeZUnit") == "µm"
    )
    back = load_stack(path)
    for k in range(3):
        np.testing.assert_array_equal(back.image(k), src.image(k))


def test_a_recording_over_time_is_a_T_series_and_reads_back_as_a_sequence(tmp_path):
    frames = _frames(4, dtype=np.uint8)
    path = tmp_path / "rec.ome.tif"
    with OmeTiffWriter(path, name="rec", kind="sequence") as w:
        for k, img in enumerate(frames):
            w.append(img, t=10.0 + k)
    axes, shape, _ = _ome(path)
    assert axes == "TYX" and shape[0] == 4
    stack = load_stack(path)
    assert stack.kind == "sequence" and len(stack) == 4
    np.testing.assert_allclose(stack.t, [10, 11, 12, 13])


def test_an_interrupted_writer_leaves_a_readable_partial_tiff(tmp_path):
    frames = _frames(3)
    path = tmp_path / "cut.ome.tif"
    w = OmeTiffWriter(path, name="cut", kind="z-sweep")
    for img in frames:
        w.append(img, z=1.0)
    w._tw.close()  # the process died before close(): only the partial file is on disk
    assert not path.exists()
    stack = load_stack(w.partial)
    assert len(stack) == 3
    np.testing.assert_array_equal(stack.image(2), frames[2])


def test_writer_refusals(tmp_path):
    with pytest.raises(InputError, match=r"\.ome\.tif"):
        OmeTiffWriter(tmp_path / "x.tif", name="x")
    (tmp_path / "e.ome.tif").write_bytes(b"")
    with pytest.raises(StackError, match="already exists"):
        OmeTiffWriter(tmp_path / "e.ome.tif", name="x")
    with OmeTiffWriter(tmp_path / "f.ome.tif", name="f") as w:
        w.append(np.zeros((4, 4), np.uint8))
        with pytest.raises(InputError, match="same shape"):
            w.append(np.zeros((4, 5), np.uint8))
        with pytest.raises(InputError, match="finite"):
            w.append(np.zeros((4, 4), np.uint8), z=float("nan"))
    assert isinstance(open_writer(tmp_path / "folder", name="s"), StackWriter)
    with pytest.raises(InputError, match="format"):
        open_writer(tmp_path / "y", format="zip", name="y")
    with OmeTiffWriter(tmp_path / "empty.ome.tif", name="e"):
        pass
    assert not (tmp_path / "empty.ome.tif").exists()


# ---------------------------------------------------------------------- reading foreign files
def _hyperstack(path, *, plane_unit=None, physical=None):
    """T=2, Z=4, C=3 uint16 planes whose value encodes (t, z, c): 1000 t + 100 c + z."""
    data = np.zeros((2, 4, 3, 6, 8), np.uint16)
    for t in range(2):
        for z in range(4):
            for c in range(3):
                data[t, z, c] = 1000 * t + 100 * c + z
    md = {"axes": "TZCYX"}
    if physical is not None:
        md["PhysicalSizeZ"], md["PhysicalSizeZUnit"] = physical
    if plane_unit is not None:
        n = 2 * 4 * 3
        # planes in TZC order (tifffile writes DimensionOrder XYCZT): z = 250 nm steps + 1 um
        md["Plane"] = {
            "PositionZ": [1000.0 + 250.0 * ((k // 3) % 4) for k in range(n)],
            "PositionZUnit": [plane_unit] * n,
        }
    tifffile.imwrite(path, data, ome=True, metadata=md)
    return path


def test_channels_and_time_points_must_be_chosen_and_are_never_mixed(tmp_path):
    path = _hyperstack(tmp_path / "h.ome.tif", physical=(0.5, "µm"))
    with pytest.raises(StackError, match=r"3 channels: choose one with --channel 0\.\.2"):
        load_stack(path)
    with pytest.raises(StackError, match=r"2 time points: choose one with --time 0\.\.1"):
        load_tiff(path, channel=0)
    with pytest.raises(StackError, match=r"--channel 3 is not a channel"):
        load_tiff(path, channel=3, time=0)
    stack = load_tiff(path, channel=2, time=1)
    assert len(stack) == 4 and stack.z_unit == "um"
    np.testing.assert_allclose(stack.z, [0.0, 0.5, 1.0, 1.5])  # PhysicalSizeZ x index
    assert [int(img[0, 0]) for img in stack.images()] == [1200, 1201, 1202, 1203]
    assert stack.image(0).dtype == np.uint16


def test_plane_positions_and_their_unit_win_over_physical_size(tmp_path):
    path = _hyperstack(tmp_path / "nm.ome.tif", plane_unit="nm", physical=(9.0, "µm"))
    stack = load_tiff(path, channel=0, time=0)
    np.testing.assert_allclose(stack.z, [1.0, 1.25, 1.5, 1.75])  # nm -> um
    assert stack.z_unit == "um"
    mm = load_tiff(_hyperstack(tmp_path / "mm.ome.tif", plane_unit="mm"), channel=1, time=0)
    assert mm.z_unit == "mm" and mm.z[1] == pytest.approx(1250.0)


def test_a_plain_multipage_tiff_reads_by_page_index(tmp_path):
    frames = _frames(3)
    tifffile.imwrite(tmp_path / "p.tif", np.stack(frames), photometric="minisblack")
    stack = load_stack(tmp_path / "p.tif")
    assert stack.z_unit == "index" and len(stack) == 3
    np.testing.assert_array_equal(stack.image(1), frames[1])
    with pytest.raises(StackError, match="no OME channels"):
        load_tiff(tmp_path / "p.tif", channel=1)


# ---------------------------------------------------------------------- CLI
def _cells_hyperstack(path):
    """cells_gray16 as channel 1 of a 2-channel, 2-time-point OME-TIFF; the others reversed in z."""
    src = load_stack(CELLS16)
    planes = np.stack(list(src.images()))
    data = np.stack([np.stack([planes[::-1], planes], axis=1)] * 2)  # T, Z, C, Y, X
    data[1, :, 1] = planes[::-1]
    n = data.shape[0] * data.shape[1] * data.shape[2]
    zs = [float(src.z[(k // 2) % len(src)]) * 1000.0 for k in range(n)]  # nm
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={"axes": "TZCYX", "Plane": {"PositionZ": zs, "PositionZUnit": ["nm"] * n}},
    )
    return src


def test_select_on_an_ome_tiff_with_channel_and_time(run_cli, tmp_path):
    path = tmp_path / "cells.ome.tif"
    src = _cells_hyperstack(path)
    proc = run_cli("select", path, "--channel", "1", "--time", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["z_unit"] == "um"
    assert abs(out["z"] - src.truth["z"]) <= src.truth["tolerance"], out
    proc = run_cli("select", path, "--json")
    assert proc.returncode == 2
    assert "choose one with --channel" in proc.stderr and "Traceback" not in proc.stderr


def test_record_and_autofocus_write_ome_tiff(run_cli, tmp_path):
    out = tmp_path / "rec.ome.tif"
    proc = run_cli("record", "--source", f"replay:{CELLS16}", "--frames", "4", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    stack = load_stack(out)
    assert len(stack) == 4 and stack.image(0).dtype == np.uint16 and stack.kind == "sequence"
    out2 = tmp_path / "rec2.ome.tiff"
    proc = run_cli(
        "record", "--source", f"replay:{CELLS16}", "--frames", "2", "--out", out2, "--format", "ome-tiff"
    )
    assert proc.returncode == 0, proc.stderr
    assert len(load_stack(out2)) == 2

    af = tmp_path / "af.ome.tif"
    proc = run_cli("autofocus", "--source", f"replay:{CELLS16}", "--drive", "sim", "--record", af, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    swept = load_stack(af)
    assert len(swept) == result["frames"] == len(swept.meta["autofocus"]["scores"])
    np.testing.assert_allclose(swept.z, [s["z_um"] for s in result["samples"]])
    assert swept.z_unit == "um"


# ---------------------------------------------------------------------- property
@st.composite
def _recordings(draw):
    n = draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    colour = draw(st.booleans())
    dtype = draw(st.sampled_from([np.uint8, np.uint16]))
    shape = (h, w, 3) if colour else (h, w)
    seed = draw(st.integers(0, 2**31 - 1))
    frames = _frames(n, shape=shape, dtype=dtype, seed=seed)
    finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    z = draw(st.lists(finite, min_size=n, max_size=n))
    t = sorted(draw(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(["z-sweep", "sequence"]))
    unit = draw(st.sampled_from(["um", "mm", "step"]))
    return frames, z, t, kind, unit


@settings(max_examples=25, deadline=None, derandomize=True)
@given(_recordings())
def test_any_recording_round_trips_through_ome_tiff(tmp_path_factory, rec):
    frames, z, t, kind, unit = rec
    path = tmp_path_factory.mktemp("ome") / "r.ome.tif"
    with OmeTiffWriter(path, name="r", kind=kind, z_unit=unit) as w:
        for img, zv, tv in zip(frames, z, t, strict=True):
            w.append(img, z=zv, t=tv)
    stack = load_stack(path)
    assert len(stack) == len(frames) and stack.kind == kind and stack.z_unit == unit
    np.testing.assert_array_equal(stack.z, z)
    np.testing.assert_allclose(stack.t, t, rtol=1e-12, atol=1e-6)
    for a, b in zip(frames, stack.images(), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
