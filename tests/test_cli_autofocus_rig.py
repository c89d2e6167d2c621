"""``focuscam autofocus`` as a process: --range (the search window) vs --limits (the drive's
soft limits), every [autofocus] rig key doing what it says, and each stack's own z unit."""

from __future__ import annotations

import json

import pytest
from conftest import shared_stack
from twin_helpers import defocus_stack


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    """41 planes 0..40 um, focus at 23 um."""
    return defocus_stack(tmp_path_factory.mktemp("cli") / "synthetic", planes=41, focus=23.0)


def autofocus_json(run_cli, syn, *args):
    proc = run_cli("autofocus", "--source", f"replay:{syn}", "--drive", "sim", "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def rig_file(tmp_path, syn, autofocus):
    path = tmp_path / "rig.toml"
    path.write_text(
        f'[camera]\nsource = "replay:{syn.as_posix()}"\n[drive]\nspec = "sim"\n[autofocus]\n{autofocus}\n'
    )
    return path


def rig_json(run_cli, tmp_path, syn, autofocus, *args):
    proc = run_cli("autofocus", "--rig", rig_file(tmp_path, syn, autofocus), "--json", "--no-window", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def one_line_exit_2(proc, *words):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0]


# ---------------------------------------------------------------- defect 7: --range vs --limits
def test_a_window_beside_the_focus_recentres_within_the_limits(run_cli, syn):
    out = autofocus_json(run_cli, syn, "--range=0,18", "--start", "0")
    assert out["state"] == "focused", out["reason"]
    assert out["within_tolerance"] is True
    assert max(s["z_um"] for s in out["samples"]) > 18  # the search left the window, not the limits


def test_recentring_stops_at_the_limits(run_cli, syn):
    out = autofocus_json(run_cli, syn, "--range=0,18", "--limits=0,20", "--start", "0")
    assert out["state"] == "failed"
    assert "limit 20" in out["reason"]
    assert all(0 <= s["z_um"] <= 20 for s in out["samples"])


def test_a_range_outside_the_limits_is_one_line_exit_2(run_cli, syn):
    proc = run_cli(
        "autofocus", "--source", f"replay:{syn}", "--drive", "sim", "--range=0,30", "--limits=0,20"
    )
    one_line_exit_2(proc, "--range", "--limits")


def test_a_motor_drive_needs_limits_not_a_range(run_cli):
    proc = run_cli("autofocus", "--source", "camera:0", "--drive", "grbl:/dev/null", "--range=-5,5")
    one_line_exit_2(proc, "--limits")


# ---------------------------------------------------------------- defect 8: every rig key
# 7 planes: the fewest that the significance rule tests (fewer end "failed" without a
# verification frame, see focuscam.search.significance)
SWEEP5 = 'strategy = "sweep"\nsteps = 7'


@pytest.fixture(scope="module")
def sweep5(tmp_path_factory, syn):
    """One run with the rig's sweep of 5 planes, the reference of the key tests below."""
    import subprocess
    import sys

    from conftest import _cli_env

    tmp = tmp_path_factory.mktemp("sweep5")
    proc = subprocess.run(
        [sys.executable, "-m", "focuscam", "autofocus", "--rig", rig_file(tmp, syn, SWEEP5), "--json"],
        capture_output=True, text=True, timeout=300, cwd=tmp, env=_cli_env(),
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def search_scores(out):
    return [s["score"] for s in out["samples"][:5]]


def test_rig_steps_sets_the_planes_of_a_sweep(run_cli, syn, sweep5):
    assert sweep5["frames"] == 7 + 1  # seven planes and the verification frame
    flag = autofocus_json(run_cli, syn, "--strategy", "sweep", "--steps", "9")
    assert flag["frames"] == 9 + 1


def test_rig_steps_with_a_strategy_that_does_not_sweep_is_refused(run_cli, tmp_path, syn):
    proc = run_cli("autofocus", "--rig", rig_file(tmp_path, syn, 'strategy = "golden"\nsteps = 5'), "--json")
    one_line_exit_2(proc, "steps", "golden")


def test_rig_bin_reaches_the_measure(run_cli, tmp_path, syn, sweep5):
    four = rig_json(run_cli, tmp_path, syn, SWEEP5 + "\nbin = 4")
    assert (sweep5["bin"], four["bin"]) == ("auto", 4)
    assert [s["z_um"] for s in sweep5["samples"][:7]] == [s["z_um"] for s in four["samples"][:7]]
    assert search_scores(sweep5) != search_scores(four)


def test_rig_roi_reaches_the_measure(run_cli, tmp_path, syn, sweep5):
    part = rig_json(run_cli, tmp_path, syn, SWEEP5 + "\nroi = [0, 0, 32, 32]")
    assert search_scores(sweep5) != search_scores(part)


def test_rig_range_is_the_first_search_window(run_cli, tmp_path, syn):
    out = rig_json(run_cli, tmp_path, syn, "range = [30, 40]", "--start", "0")
    assert out["samples"][0]["z_um"] == pytest.approx(30.0)  # the nearer end of the window, not 0


def test_rig_measure_and_strategy_are_used(run_cli, tmp_path, syn):
    out = rig_json(run_cli, tmp_path, syn, 'measure = "teng"\nstrategy = "golden"')
    assert (out["measure"], out["strategy"]) == ("teng", "golden")


# ---------------------------------------------------------------- defect 10: the stack's unit
@pytest.mark.shared
def test_a_stack_in_mm_reads_in_mm(run_cli):
    stack = shared_stack("fpd_webcam_rep1")
    proc = run_cli("autofocus", "--source", f"replay:{stack}", "--drive", "sim", "--no-window")
    assert proc.returncode == 0, proc.stderr
    cost = next(line for line in proc.stdout.splitlines() if line.startswith("cost:"))
    assert " mm," in cost and " um" not in cost  # e.g. "travel 302.676 mm", not "302676 um"
    assert proc.stdout.startswith("focused at z = -") and " mm (" in proc.stdout.splitlines()[0]
    out = json.loads(run_cli("autofocus", "--source", f"replay:{stack}", "--drive", "sim", "--json").stdout)
    assert out["z_unit"] == "mm"
    assert out["travel"] == pytest.approx(out["travel_um"] / 1000)
    assert out["target_z"] == pytest.approx(out["target_z_um"] / 1000)
