"""``focuscam autofocus`` run as a process on the twin (replay:STACK + sim drive)."""

from __future__ import annotations

import json

import cv2
import pytest
from conftest import REPO, shared_stack

from focuscam.stacks import load_stack

TARGET = REPO / "recordings" / "target_color"


def test_json_on_a_bundled_recording(run_cli):
    proc = run_cli("autofocus", "--source", f"replay:{TARGET}", "--drive", "sim", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    truth = load_stack(TARGET).truth
    assert out["state"] == "focused"
    assert abs(out["z"] - truth["z"]) <= truth["tolerance"]
    assert out["within_tolerance"] is True
    assert out["frames"] == len(out["samples"])
    assert out["z_unit"] == "um" and out["z_um"] == pytest.approx(out["z"])


@pytest.mark.shared
def test_the_issue_example_runs_the_closed_loop(run_cli):
    stack = shared_stack("fpd_webcam_rep1")
    proc = run_cli("autofocus", "--source", f"replay:{stack}", "--drive", "sim", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["z_unit"] == "mm"
    assert out["z_um"] == pytest.approx(out["z"] * 1000)
    assert abs(out["z"] - (-50.0)) <= 2.0


def test_summary_plot_and_record(run_cli, tmp_path):
    proc = run_cli(
        "autofocus",
        "--source",
        f"replay:{TARGET}",
        "--drive",
        "sim",
        "--strategy",
        "continuous",
        "--plot",
        tmp_path / "c.png",
        "--record",
        tmp_path / "rec",
        "--start",
        "10",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("focused at z = ")
    assert "within tolerance" in proc.stdout
    img = cv2.imread(str(tmp_path / "c.png"))
    assert img is not None and img.ndim == 3
    rec = load_stack(tmp_path / "rec")
    assert len(rec) >= 30  # every streamed frame was scored and recorded


def test_failed_focus_exits_1(run_cli, tmp_path):
    import numpy as np

    from focuscam.stacks import save_stack

    flat = [np.full((32, 32), 100, np.uint8)] * 9
    save_stack(tmp_path / "flat", flat, z=list(range(9)), z_unit="um", kind="z-sweep", name="flat")
    proc = run_cli("autofocus", "--source", f"replay:{tmp_path / 'flat'}", "--drive", "sim", "--json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["state"] == "failed"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--strategy", "nope"], "strategy 'nope' is unknown"),
        (["--measure", "nope"], "measure 'nope' is unknown"),
        (["--roi", "1,2,3"], "--roi"),
        (["--range", "5,1"], "--range"),
        (["--plot", "x.jpg"], "--plot"),
        (["--start", "1e9"], "start"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, args, match):
    proc = run_cli("autofocus", "--source", f"replay:{TARGET}", "--drive", "sim", "--no-window", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert match in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_a_motor_drive_needs_limits(run_cli):
    proc = run_cli("autofocus", "--source", "camera:0", "--drive", "grbl:/dev/null")
    assert proc.returncode == 2
    assert "--limits" in proc.stderr
