"""``focuscam select`` run as a real process: results, exit codes, JSON, plot, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from focuscam.stacks import save_stack

REPO = Path(__file__).resolve().parents[1]


def _defocus_frames(z, z_focus, shape=(96, 128), seed=0):
    rng = np.random.default_rng(seed)
    h, w = shape
    base = cv2.resize(
        (rng.integers(0, 2, (h // 8, w // 8)) * 200 + 25).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_NEAREST,
    )
    return [
        np.clip(cv2.GaussianBlur(base, (0, 0), 0.3 + 0.8 * abs(zk - z_focus)), 0, 255).astype(np.uint8)
        for zk in z
    ]


@pytest.fixture
def good_stack(tmp_path):
    z = np.arange(-5.0, 5.5, 0.5)
    return save_stack(
        tmp_path / "good",
        _defocus_frames(z, 1.2),
        z,
        z_unit="um",
        truth={"z": 1.2, "tolerance": 0.5, "basis": "made in the test"},
    )


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr
    assert len(err.splitlines()) == 1, err
    assert err.startswith("focuscam")
    for needle in needles:
        assert needle in err, (needle, err)
    assert proc.stdout == ""


def test_select_json_focused(run_cli, good_stack):
    proc = run_cli("select", good_stack, "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    for key in ("index", "z", "z_unit", "state", "confidence", "scores", "measure", "reason", "path"):
        assert key in out
    assert out["state"] == "focused" and out["z_unit"] == "um"
    assert abs(out["z"] - 1.2) <= 0.5
    assert len(out["scores"]) == 21
    assert out["within_tolerance"] is True


def test_select_human_summary_and_plot(run_cli, good_stack, tmp_path):
    plot = tmp_path / "curve.png"
    proc = run_cli("select", good_stack, "--measure", "teng", "--roi", "8,8,100,70", "--plot", plot)
    assert proc.returncode == 0, proc.stderr
    assert "focused" in proc.stdout and "teng" in proc.stdout and "within" in proc.stdout
    img = cv2.imread(str(plot), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (500, 800, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # really drawn on, not a blank canvas


def test_select_noise_stack_fails_with_exit_1(run_cli, tmp_path):
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (96, 128), dtype=np.uint8) for _ in range(25)]
    save_stack(tmp_path / "noise", frames, np.arange(25.0), z_unit="um")
    proc = run_cli("select", tmp_path / "noise", "--json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["state"] == "failed"
    human = run_cli("select", tmp_path / "noise")
    assert human.returncode == 1 and "FAILED" in human.stdout


def test_select_flat_stack_fails_with_exit_1(run_cli, tmp_path):
    save_stack(tmp_path / "flat", [np.full((40, 50, 3), 90, np.uint8)] * 10)
    proc = run_cli("select", tmp_path / "flat", "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["state"] == "failed" and "flat" in out["reason"]


def test_select_image_folder(run_cli, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for k, img in enumerate(_defocus_frames(np.arange(12.0), 7.0)):
        cv2.imwrite(str(folder / f"img{k}.png"), img)
    proc = run_cli("select", folder, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["z_unit"] == "index" and out["index"] == 7


# ------------------------------------------------------------------ bad input: one line, exit 2
def _json_edit(stack: Path, edit) -> Path:
    meta = json.loads((stack / "stack.json").read_text())
    edit(meta)
    (stack / "stack.json").write_text(json.dumps(meta))
    return stack


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        ("not json {", "not valid JSON"),
        (lambda m: m.update(format="focuscam-stack/9"), "format"),
        (lambda m: m.pop("kind"), "'kind'"),
        (lambda m: m.update(frames={"file": "x"}), "'frames'"),
        (lambda m: m["frames"][3].update(z="three"), "frames[3]"),
    ],
    ids=["bad-json", "wrong-format", "missing-key", "wrong-type", "wrong-z-type"],
)
def test_malformed_stack_json(run_cli, good_stack, edit, needle):
    if isinstance(edit, str):
        (good_stack / "stack.json").write_text(edit)
    else:
        _json_edit(good_stack, edit)
    _one_line_error(run_cli("select", good_stack), "stack.json", needle)


def test_missing_frame_file(run_cli, good_stack):
    (good_stack / "frames" / "000004.png").unlink()
    _one_line_error(run_cli("select", good_stack), "000004.png", "missing")


def test_undecodable_frame(run_cli, good_stack):
    (good_stack / "frames" / "000006.png").write_bytes(b"\x89PNG garbage garbage garbage")
    _one_line_error(run_cli("select", good_stack), "000006.png", "not a readable image")


def test_mixed_shapes(run_cli, good_stack):
    cv2.imwrite(str(good_stack / "frames" / "000002.png"), np.zeros((50, 50), np.uint8))
    _one_line_error(run_cli("select", good_stack), "000002.png", "shape")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--roi", "1,2,3"), ("--roi", "x,y,w,h")),
        (("--roi", "100,80,64,64"), ("--roi", "leaves")),
        (("--measure", "sharpness"), ("sharpness", "lapv")),
        (("--bin", "zero"), ("--bin", "zero")),
        (("--plot", "curve.jpg"), ("--plot", ".png")),
        (("--mode", "min"), ("--mode",)),
    ],
)
def test_bad_flags(run_cli, good_stack, args, needles):
    _one_line_error(run_cli("select", good_stack, *args), *needles)


def test_missing_path(run_cli, tmp_path):
    _one_line_error(run_cli("select", tmp_path / "nowhere"), "nowhere", "does not exist")


# ------------------------------------------------------------------ real and bundled stacks
@pytest.mark.shared
@pytest.mark.parametrize("name", ["fpd_webcam_rep1", "dfnn_mitochondria", "maars_bf_yeast"])
def test_cli_lands_within_truth_on_shared_stacks(run_cli, name):
    from conftest import shared_stack

    path = shared_stack(name)
    truth = json.loads((path / "stack.json").read_text())["truth"]
    proc = run_cli("select", path, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "focused"
    assert abs(out["z"] - truth["z"]) <= truth["tolerance"], out
    assert out["within_tolerance"] is True


def _bundled():
    folder = REPO / "recordings"
    return sorted(p for p in folder.iterdir() if (p / "stack.json").is_file()) if folder.is_dir() else []


@pytest.mark.parametrize("path", _bundled(), ids=lambda p: p.name)
def test_cli_lands_within_truth_on_bundled_recordings(run_cli, path):
    truth = json.loads((path / "stack.json").read_text())["truth"]
    proc = run_cli("select", path, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "focused"
    assert abs(out["z"] - truth["z"]) <= truth["tolerance"], out


def test_bundled_recordings_exist():
    paths = _bundled()
    assert len(paths) >= 1, "recordings/ must hold at least one stack made by focuscam synth"
    total = sum(f.stat().st_size for p in paths for f in p.rglob("*") if f.is_file())
    assert total < 8 * 1024 * 1024  # a few MB in all
