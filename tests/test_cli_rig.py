"""``focuscam rig check`` run as a process: valid files, hardware probing, exit codes 0/2/3."""

from __future__ import annotations

import importlib
import json
import os

import pytest
from conftest import REPO, shared_stack

SIM_RIG = """\
name = "sim bench"
[drive]
spec = "sim"
limits = [-300, 400]
backlash = 10
speed = 500
[autofocus]
measure = "lapv"
range = [-100, 100]
"""


def one_line_error(proc, code: int) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_help_has_examples(run_cli):
    proc = run_cli("rig", "check", "--help")
    assert proc.returncode == 0
    assert "focuscam rig check" in proc.stdout and "--connect" in proc.stdout
    proc = run_cli("--help")
    assert "rig" in proc.stdout


def test_sim_drive_is_opened_and_reported(run_cli, tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text(SIM_RIG)
    proc = run_cli("rig", "check", path)
    assert proc.returncode == 0, proc.stderr
    assert f"{path} (sim bench): valid" in proc.stdout
    assert "position 0 um" in proc.stdout and "limits [-300, 400] um" in proc.stdout

    proc = run_cli("rig", "check", path, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["valid"] is True and report["file"] == str(path)
    assert report["drive"]["connected"] is True
    assert report["drive"]["position_um"] == 0.0
    assert report["drive"]["limits_um"] == [-300.0, 400.0]
    assert report["rig"]["drive"]["backlash"] == 10.0
    assert report["camera"]["spec"] is None and report["camera"]["connected"] is False


def test_absent_hardware_is_reported_not_opened_and_connect_fails_with_3(run_cli, tmp_path):
    path = tmp_path / "rig.toml"
    port = tmp_path / "no-such-port"
    path.write_text(f'[camera]\nsource = "camera:/dev/no-such-video"\n[drive]\nspec = "grbl:{port}"\n')
    proc = run_cli("rig", "check", path, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["camera"]["present"] is False and report["camera"]["connected"] is False
    assert report["drive"]["present"] is False and report["drive"]["connected"] is False
    assert "--connect" in report["drive"]["note"]

    path.write_text(f'[drive]\nspec = "grbl:{port}"\nlimits = [-100, 100]\n')
    line = one_line_error(run_cli("rig", "check", path, "--connect"), 3)
    assert line.startswith("focuscam: error:")


def test_connect_to_absent_camera_exits_3(run_cli, tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text('[camera]\nsource = "camera:/dev/no-such-video"\n')
    one_line_error(run_cli("rig", "check", path, "--connect"), 3)


def test_replay_camera_is_opened_and_its_size_reported(run_cli, tmp_path):
    if not hasattr(importlib.import_module("focuscam.sources"), "open_source"):
        pytest.skip("focuscam.sources.open_source is not in this checkout yet")
    stack = shared_stack("maars_bf_yeast")
    path = tmp_path / "rig.toml"
    path.write_text(f'[camera]\nsource = "replay:{stack}"\n')
    proc = run_cli("rig", "check", path, "--json")
    assert proc.returncode == 0, proc.stderr
    cam = json.loads(proc.stdout)["camera"]
    assert cam["connected"] is True
    import cv2

    first = json.loads((stack / "stack.json").read_text())["frames"][0]["file"]
    img = cv2.imread(str(stack / first), cv2.IMREAD_UNCHANGED)
    assert cam["size"] == [img.shape[1], img.shape[0]]
    assert cam["dtype"] == str(img.dtype)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[drive]\nspeed = -5\n", ["[drive] speed = -5", "allowed:", "um/s"]),
        ("[autofocus]\nbogus = 1\n", ["[autofocus] bogus", "allowed keys"]),
        ("[camera\n", ["not valid TOML"]),
    ],
)
def test_invalid_file_exits_2_with_one_line(run_cli, tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    line = one_line_error(run_cli("rig", "check", path), 2)
    assert str(path) in line
    for word in words:
        assert word in line
    # --json does not change the error path
    one_line_error(run_cli("rig", "check", path, "--json"), 2)


def test_missing_file_and_missing_action_exit_2(run_cli, tmp_path):
    line = one_line_error(run_cli("rig", "check", tmp_path / "nope.toml"), 2)
    assert "not found" in line
    one_line_error(run_cli("rig"), 2)
    one_line_error(run_cli("rig", "check"), 2)


def test_a_rig_file_that_is_a_fifo_or_dev_zero_or_huge_is_refused_at_once(run_cli, tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    assert "FIFO" in one_line_error(run_cli("rig", "check", fifo, timeout=60), 2)
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")  # reading it would never end
    assert "character device" in one_line_error(run_cli("move", "--rig", zero, "--to", "1", timeout=60), 2)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 << 20) + "\n")
    assert "more than the 1048576 bytes" in one_line_error(run_cli("rig", "check", big, timeout=60), 2)


def test_setting_the_drive_does_not_take_exits_2_naming_the_file(run_cli, tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text('[drive]\nspec = "sim"\nsteps_per_um = 4\n')
    line = one_line_error(run_cli("rig", "check", path), 2)
    assert f"{path}: [drive]" in line and "steps_per_um" in line


def test_example_rig_checks_with_the_bundled_recording_and_the_sim_drive(run_cli):
    proc = run_cli("rig", "check", REPO / "recordings" / "rig.example.toml", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["drive"]["connected"] and report["drive"]["limits_um"] == [-20.0, 20.0]
    assert report["camera"]["connected"] and report["camera"]["size"] == [320, 240]
    assert "note" not in report["camera"]


def test_camera_size_mismatch_is_noted(run_cli, tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text(
        f'[camera]\nsource = "replay:{REPO / "recordings" / "target_color"}"\nsize = [640, 480]\n'
    )
    proc = run_cli("rig", "check", path)
    assert proc.returncode == 0, proc.stderr
    assert "note: the rig says size = [640, 480] but the camera delivers 320x240" in proc.stdout
