"""The CLI on Micro-Manager (``mm:CFG``) as processes: a .cfg of focuscam's python twin devices
(``#py pyDevice`` lines) opened by pymmcore-plus's UniMMCore; autofocus, move, monitor, record,
and a rig file naming the configuration relative to itself."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from focuscam.cli import main
from focuscam.stacks import load_stack

pytest.importorskip("pymmcore_plus.experimental.unicore")

TARGET = REPO / "recordings" / "target_color"


@pytest.fixture
def cfg(tmp_path):
    """A copy of recordings/mm_twin.cfg in tmp_path, its Stack pointing at the bundled recording."""
    text = (REPO / "recordings" / "mm_twin.cfg").read_text()
    path = tmp_path / "rig" / "twin.cfg"
    path.parent.mkdir()
    path.write_text(text.replace("Stack,target_color", f"Stack,{TARGET}"))
    return path


def test_autofocus_through_the_cli_on_a_config_file_lands_within_the_truth(run_cli, cfg):
    truth = load_stack(TARGET).truth
    proc = run_cli(
        "autofocus", "--source", f"mm:{cfg}", "--drive", f"mm:{cfg}", "--limits", "-18,18", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "focused"
    assert abs(out["z_um"] - truth["z"]) <= truth["tolerance"], out
    assert proc.stderr.strip() == "" or "Traceback" not in proc.stderr


def test_the_bundled_config_resolves_its_stack_next_to_itself(run_cli, tmp_path):
    cfg = REPO / "recordings" / "mm_twin.cfg"
    proc = run_cli("move", "--drive", f"mm:{cfg}", "--limits=-18,18", "--to", "-3.5", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["z"] == pytest.approx(-3.5)


def test_move_monitor_and_record_through_mm(run_cli, cfg, tmp_path, capsys):
    proc = run_cli("move", "--drive", f"mm:{cfg}", "--limits=-20,20", "--to", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["z"] == pytest.approx(5.0)
    # the refusals in this process (the same main() the command runs; no process start-up)
    assert main(["move", "--drive", f"mm:{cfg}", "--to", "5"]) == 2
    assert "--limits is required" in capsys.readouterr().err
    assert main(["move", "--drive", f"mm:{cfg}", "--limits=-20,20", "--to", "25"]) == 2
    assert "soft limits" in capsys.readouterr().err

    proc = run_cli("monitor", "--source", f"mm:{cfg}", "--frames", "3", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [0, 1, 2] and all(r["score"] > 0 for r in rows)

    out = tmp_path / "rec"
    proc = run_cli("record", "--source", f"mm:{cfg}", "--frames", "3", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    stack = load_stack(out)
    assert len(stack) == 3 and stack.image(0).shape == (240, 320, 3)


def test_a_rig_file_names_the_config_relative_to_itself(run_cli, cfg, tmp_path):
    rig = cfg.parent / "rig.toml"
    rig.write_text('[camera]\nsource = "mm:twin.cfg"\n\n[drive]\nspec = "mm:twin.cfg"\nlimits = [-18, 18]\n')
    proc = run_cli("autofocus", "--rig", rig, "--json", "--limits", "-18,18", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "focused"


def test_mm_errors_are_one_line_with_the_documented_exit_code(run_cli, cfg, tmp_path):
    proc = run_cli("move", "--drive", f"mm:{cfg}#Camera", "--limits=-20,20", "--to", "5")
    assert proc.returncode == 2
    assert "not a focus (Z) stage" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.cfg"
    bad.write_text("Device,Cam,NoSuchAdapter,DCam\nProperty,Core,Initialize,1\n")
    proc = run_cli("monitor", "--source", f"mm:{bad}", "--frames", "1", "--no-window")
    assert proc.returncode == 3
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "mmcore install" in lines[0] and "MICROMANAGER_PATH" in lines[0], proc.stderr


def test_a_rig_camera_exposure_reaches_the_mm_camera_in_ms_and_others_are_refused(tmp_path):
    import argparse

    from focuscam.cli.record import source_options
    from focuscam.errors import InputError
    from focuscam.rig import parse_rig

    rig = parse_rig({"camera": {"source": "mm:x.cfg", "exposure": 25.0}})
    args = argparse.Namespace(source="mm:x.cfg", fps=None, loop=False, rig_config=rig)
    assert source_options(args) == {"exposure_ms": 25.0}
    rig = parse_rig({"camera": {"source": "picamera:0", "size": [640, 480], "exposure": 9000, "gain": 2}})
    args.source, args.rig_config = "picamera:0", rig
    assert source_options(args) == {"width": 640, "height": 480, "exposure_us": 9000, "gain": 2}
    args.rig_config = parse_rig({"camera": {"source": "mm:x.cfg", "fps": 10}})
    args.source = "mm:x.cfg"
    with pytest.raises(InputError, match=r"\[camera\] fps does not apply to mm"):
        source_options(args)
