"""Synthetic stacks: PSF, noise model, determinism, the synth and demo commands."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import numpy as np
import pytest

from focuscam.errors import InputError
from focuscam.select import select_plane
from focuscam.stacks import load_stack
from focuscam.synth import SynthParams, defocus_psf, make_scene, render_planes, synth_stack

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("radius", [0.0, 0.4, 1.0, 3.5, 12.0])
def test_psf_is_normalised_symmetric_and_grows(radius):
    psf = defocus_psf(radius)
    assert psf.dtype == np.float32
    assert psf.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(psf, psf[::-1, ::-1], atol=1e-7)
    np.testing.assert_allclose(psf, psf.T, atol=1e-7)
    # second moment (spread) grows with the radius
    h = psf.shape[0] // 2
    yy, xx = np.mgrid[-h : h + 1, -h : h + 1]
    spread = float((psf * (xx**2 + yy**2)).sum())
    bigger = defocus_psf(radius + 2.0)
    hb = bigger.shape[0] // 2
    yb, xb = np.mgrid[-hb : hb + 1, -hb : hb + 1]
    assert float((bigger * (xb**2 + yb**2)).sum()) > spread


def test_psf_rejects_bad_radius():
    with pytest.raises(InputError, match="radius_px"):
        defocus_psf(-1.0)


@pytest.mark.parametrize("kind", ["target", "cells"])
@pytest.mark.parametrize("color", [True, False])
def test_scene_range_and_shape(kind, color):
    scene = make_scene(kind, 160, 120, color=color, seed=4)
    assert scene.shape == (120, 160, 3 if color else 1)
    assert scene.dtype == np.float32
    assert 0.0 <= scene.min() and scene.max() <= 1.0
    assert scene.std() > 0.05  # there is a pattern, not a blank field


def test_render_is_deterministic_and_seed_dependent():
    p = SynthParams(planes=5, width=96, height=64, seed=3)
    a, za, fa = render_planes(p)
    b, zb, fb = render_planes(p)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(za, zb)
    assert fa == fb
    c, _, _ = render_planes(SynthParams(planes=5, width=96, height=64, seed=4))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_dtypes_and_z_grid():
    frames, z, z_focus = render_planes(
        SynthParams(color=False, kind="cells", planes=7, width=64, height=48, z_step=0.5)
    )
    assert all(f.dtype == np.uint16 and f.shape == (48, 64) for f in frames)
    np.testing.assert_allclose(z, [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    assert -0.75 <= z_focus <= 0.75  # drawn within the middle half of the range
    frames8, _, _ = render_planes(SynthParams(planes=3, width=64, height=48))
    assert all(f.dtype == np.uint8 and f.shape == (48, 64, 3) for f in frames8)


def test_noise_follows_shot_plus_read_model():
    # a flat grey field: the frame variance in electrons must be ~ photons*level + read^2
    p = SynthParams(
        kind="cells", color=False, planes=3, width=256, height=256, photons=2000.0, read_noise=5.0
    )
    from focuscam.synth import _to_counts

    rng = np.random.default_rng(0)
    level = 0.4
    counts = _to_counts(np.full((256, 256, 1), level, np.float32), p, rng)[..., 0].astype(np.float64)
    gain = 48000.0 / p.photons
    electrons = (counts - 100.0) / gain
    assert electrons.mean() == pytest.approx(level * p.photons, rel=0.01)
    assert electrons.var() == pytest.approx(level * p.photons + p.read_noise**2, rel=0.05)


def test_sharpness_peaks_at_true_focus():
    p = SynthParams(planes=15, width=160, height=120, seed=5, z_step=1.0, z_focus=1.3)
    frames, z, z_focus = render_planes(p)
    res = select_plane(frames, bin=1)
    assert abs(z[res.index] - z_focus) <= 1.0
    assert res.state == "focused"


def test_synth_stack_records_truth_and_command(tmp_path):
    p = SynthParams(kind="cells", color=False, planes=9, width=96, height=72, seed=8, z_step=0.5)
    out = synth_stack(tmp_path / "cells", p)
    meta = json.loads((out / "stack.json").read_text())
    stack = load_stack(out)
    assert stack.z_unit == "um" and len(stack) == 9
    truth = meta["truth"]
    assert truth["z"] == p.true_focus() and truth["tolerance"] == 0.5
    assert truth["basis"].startswith("synthetic: generated in focus at z=")
    cmd = meta["generator"]["command"]
    assert cmd.startswith("focuscam synth ") and "--gray16" in cmd and "--seed 8" in cmd
    assert "version" in meta["generator"]


def test_bad_params():
    with pytest.raises(InputError, match="planes"):
        SynthParams(planes=2).validate()
    with pytest.raises(InputError, match="kind"):
        SynthParams(kind="stars").validate()
    with pytest.raises(InputError, match="photons"):
        SynthParams(photons=0).validate()
    with pytest.raises(InputError, match="size"):
        SynthParams(width=8).validate()


# ------------------------------------------------------------------ the commands, as processes
def test_synth_cli_and_its_recorded_command_reproduce_the_stack(run_cli, tmp_path):
    proc = run_cli(
        "synth",
        "--out",
        "a",
        "--kind",
        "cells",
        "--gray16",
        "--planes",
        "7",
        "--size",
        "80x60",
        "--seed",
        "9",
    )
    assert proc.returncode == 0, proc.stderr
    assert "true focus" in proc.stdout
    meta = json.loads((tmp_path / "a" / "stack.json").read_text())
    argv = shlex.split(meta["generator"]["command"])
    assert argv[:2] == ["focuscam", "synth"]
    argv[argv.index("--out") + 1] = "b"
    again = run_cli(*argv[1:])
    assert again.returncode == 0, again.stderr
    a, b = load_stack(tmp_path / "a"), load_stack(tmp_path / "b")
    assert a.truth == b.truth
    for x, y in zip(a.images(), b.images(), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--size", "640by480"), "--size"),
        (("--planes", "2"), "planes"),
        (("--kind", "stars"), "--kind"),
        (("--photons", "-5"), "photons"),
    ],
)
def test_synth_cli_bad_input(run_cli, args, needle):
    proc = run_cli("synth", "--out", "x", *args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert needle in proc.stderr


def test_synth_refuses_to_overwrite_other_folder(run_cli, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    proc = run_cli("synth", "--out", "mine", "--planes", "3", "--size", "64x48")
    assert proc.returncode == 2 and "not a stack folder" in proc.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_demo_on_bundled_recording(run_cli):
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    assert "focused" in proc.stdout and "within the tolerance" in proc.stdout
    assert "recordings" in proc.stdout
    js = run_cli("demo", "--json")
    assert js.returncode == 0
    out = json.loads(js.stdout)
    assert out["state"] == "focused" and out["within_tolerance"] is True and out["generated"] is False
    # the demo is a closed loop on the twin: it scores fewer frames than a full sweep of the stack
    assert 0 < out["frames"] < out["sweep_frames"]
    assert out["start_um"] == min(s["z_um"] for s in out["samples"])


def test_demo_generates_when_recordings_are_missing(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FOCUSCAM_RECORDINGS", str(tmp_path / "none"))
    proc = run_cli("demo", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["generated"] is True and out["within_tolerance"] is True
    # the generated stack equals the bundled one's recipe: same true focus
    bundled = json.loads((REPO / "recordings" / "target_color" / "stack.json").read_text())
    assert out["truth"] == bundled["truth"]


@pytest.mark.parametrize("name", ["target_color", "cells_gray16"])
def test_bundled_recordings_match_their_recorded_command(name, tmp_path):
    meta = json.loads((REPO / "recordings" / name / "stack.json").read_text())
    params = SynthParams(**meta["generator"]["params"])
    frames, z, z_focus = render_planes(params)
    bundled = load_stack(REPO / "recordings" / name)
    assert z_focus == bundled.truth["z"]
    np.testing.assert_allclose(z, bundled.z)
    for k, (mine, theirs) in enumerate(zip(frames, bundled.images(), strict=True)):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        # bit-exact on the machine that made them; elsewhere only float rounding may differ
        diff = np.abs(mine.astype(np.int64) - theirs.astype(np.int64))
        assert diff.mean() <= 0.02 * np.iinfo(mine.dtype).max, k


# ---------------------------------------------------------------- --out never deletes the user's files
def test_synth_out_an_existing_stack_with_user_files_refuses_and_touches_nothing(run_cli, tmp_path):
    out = tmp_path / "s"
    assert run_cli("synth", "--out", out, "--planes", "5", "--size", "64x48").returncode == 0
    (out / "notes.txt").write_text("my notes")
    (out / "analysis").mkdir()
    (out / "analysis" / "result.csv").write_text("1,2")
    (out / "frames" / "mine.png").write_bytes(b"x")
    os.chmod(out, 0o751)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    proc = run_cli("synth", "--out", out, "--planes", "7", "--size", "64x48", "--seed", "1")
    assert proc.returncode == 2
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "did not write" in lines[0] and "notes.txt" in lines[0], proc.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert (out / "notes.txt").read_text() == "my notes"
    assert os.stat(out).st_mode & 0o777 == 0o751
    assert len(load_stack(out)) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # no temporary folder left beside it


def test_synth_out_replaces_its_own_stack_and_keeps_the_folder_permissions(run_cli, tmp_path):
    out = tmp_path / "s"
    assert run_cli("synth", "--out", out, "--planes", "5", "--size", "64x48").returncode == 0
    old = os.umask(0o022)
    os.umask(old)
    assert os.stat(out).st_mode & 0o777 == 0o777 & ~old  # a new stack follows the umask
    os.chmod(out, 0o750)
    assert run_cli("synth", "--out", out, "--planes", "7", "--size", "64x48").returncode == 0
    assert len(load_stack(out)) == 7
    assert os.stat(out).st_mode & 0o777 == 0o750
    assert sorted(p.name for p in out.iterdir()) == ["frames", "stack.json"]


# ------------------------------------------------ streaming: frames written as they are rendered
def test_save_stack_writes_a_generator_frame_by_frame_and_atomically(tmp_path):
    from focuscam.errors import InputError
    from focuscam.stacks import load_stack, save_stack

    frames = [np.full((8, 8), k, np.uint8) for k in range(5)]
    seen = []

    def gen():
        for f in frames:
            seen.append(len(seen))
            yield f

    out = save_stack(tmp_path / "s", gen(), z=[0.0, 1.0, 2.0, 3.0, 4.0])
    st = load_stack(out)
    assert len(st) == 5 and [int(im[0, 0]) for im in st.images()] == [0, 1, 2, 3, 4]

    def broken():
        yield frames[0]
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        save_stack(tmp_path / "b", broken(), z=[0.0, 1.0])
    assert not (tmp_path / "b").exists()
    with pytest.raises(InputError, match="z has 3 values for 2 frames"):
        save_stack(tmp_path / "c", iter(frames[:2]), z=[0.0, 1.0, 2.0])
    assert not (tmp_path / "c").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folder left


def test_synth_holds_only_a_few_frames_at_a_time(tmp_path, monkeypatch):
    """The renderer runs at most two frames ahead of the writer: count the frames alive."""
    import focuscam.synth as synth

    alive, most = [0], [0]
    real = synth.iter_planes

    class Tracked(np.ndarray):
        def __del__(self):
            alive[0] -= 1

    def counting(params):
        for frame in real(params):
            alive[0] += 1
            most[0] = max(most[0], alive[0])
            yield frame.view(Tracked)

    monkeypatch.setattr(synth, "iter_planes", counting)
    out = synth.synth_stack(tmp_path / "s", SynthParams(planes=15, width=48, height=32, seed=1))
    assert len(list((out / "frames").iterdir())) == 15
    assert most[0] <= 5, most[0]


def test_synth_pixels_do_not_depend_on_streaming(tmp_path):
    from focuscam.stacks import load_stack

    p = SynthParams(planes=5, width=64, height=48, seed=9)
    frames, _, _ = render_planes(p)
    st = load_stack(synth_stack(tmp_path / "s", p))
    for a, b in zip(frames, st.images(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_noise_kernels_match_the_numpy_expressions(dtype):
    # the oracle: the numpy expressions the kernels replaced (scale, round half to even, clip,
    # cast), on counts with halves, negatives (read noise) and values beyond white
    from focuscam._synth_kernels import digital_numbers

    rng = np.random.default_rng(3)
    e = rng.integers(-40, 5000, (37, 23)).astype(dtype)
    if dtype == np.float64:
        e += rng.normal(0.0, 3.0, e.shape)
        e[0, :6] = [0.5, 1.5, 2.5, -0.5, 254.5, 255.5]
    for scale in (255.0 / 4000.0, 1.0, 0.37):
        out = np.empty(e.shape, np.uint8)
        digital_numbers(e, 0.0, scale, 255.0, out)
        assert np.array_equal(out, np.clip(np.rint(e.astype(np.float64) * scale), 0, 255).astype(np.uint8))
    for gain in (12.0, 48000.0 / 4000.0, 3.3):
        out = np.empty(e.shape, np.uint16)
        digital_numbers(e, 100.0, gain, 65535.0, out)
        expect = np.clip(np.rint(100.0 + e.astype(np.float64) * gain), 0, 65535).astype(np.uint16)
        assert np.array_equal(out, expect)
