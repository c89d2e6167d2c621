"""``--rig RIG.toml`` on the CLI: unset flags come from the file, given flags beat it, a value that
is neither given nor in the file is one clear line (exit 2). Run as processes on the simulated drive
over the bundled ``recordings/target_color`` replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TARGET = Path(__file__).resolve().parents[1] / "recordings" / "target_color"


def write_rig(tmp_path: Path, *, drive: bool = True, autofocus: str = "") -> Path:
    text = f'[camera]\nsource = "replay:{TARGET.as_posix()}"\n'
    if drive:
        text += '[drive]\nspec = "sim"\n'
    if autofocus:
        text += f"[autofocus]\n{autofocus}\n"
    path = tmp_path / "rig.toml"
    path.write_text(text)
    return path


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0]


def test_autofocus_takes_source_drive_and_defaults_from_the_rig(run_cli, tmp_path):
    rig = write_rig(tmp_path, autofocus='measure = "teng"\nstrategy = "sweep"')
    proc = run_cli("autofocus", "--rig", rig, "--json", "--no-window")
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert out["strategy"] == "sweep"
    assert out["measure"] == "teng"


def test_autofocus_flags_beat_the_rig(run_cli, tmp_path):
    rig = write_rig(tmp_path, autofocus='measure = "teng"\nstrategy = "sweep"')
    proc = run_cli(
        "autofocus", "--rig", rig, "--json", "--no-window", "--measure", "lapv", "--strategy", "golden"
    )
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert out["strategy"] == "golden"
    assert out["measure"] == "lapv"


def test_autofocus_without_a_drive_anywhere_is_one_line(run_cli, tmp_path):
    rig = write_rig(tmp_path, drive=False)
    one_line_error(run_cli("autofocus", "--rig", rig, "--json"), "--drive", "rig")


def test_autofocus_without_source_or_rig_is_one_line(run_cli):
    one_line_error(run_cli("autofocus", "--drive", "sim", "--json"), "--source")


@pytest.mark.parametrize("cmd", ["autofocus", "monitor", "record"])
def test_a_missing_rig_file_is_one_line(run_cli, tmp_path, cmd):
    extra = ["--out", tmp_path / "o"] if cmd == "record" else []
    one_line_error(run_cli(cmd, "--rig", tmp_path / "nope.toml", *extra), "nope.toml")


def test_monitor_takes_source_and_measure_from_the_rig(run_cli, tmp_path):
    rig = write_rig(tmp_path, autofocus='measure = "teng"')
    proc = run_cli("monitor", "--rig", rig, "--frames", "2", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2
    assert {r["measure"] for r in rows} == {"teng"}


def test_monitor_scores_lapv_when_the_rig_says_auto(run_cli, tmp_path):
    # `[autofocus] measure = "auto"` (what a rig may say) leaves the choice to autofocus: the
    # monitor then shows the default measure's score instead of refusing the rig
    rig = write_rig(tmp_path, autofocus='measure = "auto"')
    proc = run_cli("monitor", "--rig", rig, "--frames", "2", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    assert {json.loads(line)["measure"] for line in proc.stdout.splitlines()} == {"lapv"}


def test_monitor_measure_flag_beats_the_rig(run_cli, tmp_path):
    rig = write_rig(tmp_path, autofocus='measure = "teng"')
    proc = run_cli("monitor", "--rig", rig, "--frames", "1", "--json", "--no-window", "--measure", "glvn")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["measure"] == "glvn"


@pytest.mark.parametrize("cmd", ["monitor", "record"])
def test_no_source_anywhere_is_one_line(run_cli, tmp_path, cmd):
    rig = tmp_path / "empty.toml"
    rig.write_text('[drive]\nspec = "sim"\n')
    extra = ["--out", tmp_path / "o"] if cmd == "record" else ["--no-window"]
    one_line_error(run_cli(cmd, "--rig", rig, "--frames", "1", *extra), "--source", "rig")


def test_record_from_the_rig_prints_one_json_object(run_cli, tmp_path):
    from focuscam.stacks import load_stack

    rig = write_rig(tmp_path)
    proc = run_cli("record", "--rig", rig, "--out", tmp_path / "rec", "--frames", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["frames"] == 3 and out["reason"] == "frames" and out["dropped"] == 0
    assert Path(tmp_path / out["out"]).resolve() == (tmp_path / "rec").resolve()
    assert len(load_stack(tmp_path / "rec")) == 3
    assert proc.stderr == ""  # no progress bar or summary when piped with --json


def test_record_source_flag_beats_the_rig(run_cli, tmp_path):
    rig = tmp_path / "bad.toml"
    rig.write_text('[camera]\nsource = "replay:/nonexistent/stack"\n')
    proc = run_cli(
        "record",
        "--rig",
        rig,
        "--source",
        f"replay:{TARGET}",
        "--out",
        tmp_path / "r",
        "--frames",
        "2",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames"] == 2


def test_move_takes_its_drive_and_limits_from_the_rig(run_cli, tmp_path):
    rig = tmp_path / "d.toml"
    rig.write_text('[drive]\nspec = "sim"\nlimits = [-20, 20]\n')
    proc = run_cli("move", "--rig", rig, "--to", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["drive"] == "sim" and out["z"] == 5.0 and out["limits"] == [-20.0, 20.0]
    one_line_error(run_cli("move", "--rig", rig, "--to", "50"), "limits")  # the rig's limits apply
    wider = run_cli("move", "--rig", rig, "--limits", "-100,100", "--to", "50", "--json")
    assert wider.returncode == 0, wider.stderr  # the flag beats the file
    assert json.loads(wider.stdout)["limits"] == [-100.0, 100.0]


def test_move_without_a_drive_anywhere_is_one_line(run_cli):
    one_line_error(run_cli("move", "--to", "1"), "--drive")
