"""Issue 12 through the CLI as a process, against the GRBL emulator on a real pty: a refused
move sends nothing, a second process gets "port busy", Ctrl-C reports where the motor came to
rest, and a rig file cannot name a pyserial handler that writes files."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .grbl_emulator import GrblEmulator
from .pty_board import boards

RECORDING = Path(__file__).resolve().parents[2] / "recordings" / "target_color"


@pytest.fixture
def grbls():
    yield from boards(GrblEmulator)


def _one_line(proc, code: int) -> str:
    out, err = (proc.stdout, proc.stderr) if isinstance(proc.stderr, str) else proc.communicate()
    assert proc.returncode == code, (proc.returncode, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _wait(cond, what: str, proc=None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc is None or proc.poll() is None, f"the CLI ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.005)


@pytest.mark.parametrize("request_", [["--to", "250"], ["--to", "-100.5"], ["--by", "201"], ["--by", "-1e6"]])
def test_a_move_refused_for_its_limits_sends_nothing_at_all(run_cli, grbls, request_):
    emu = grbls(lose_bytes=0)
    line = _one_line(
        run_cli("move", "--drive", f"grbl:{emu.port}", "--limits", "-100,100", *request_, "--timeout", "0.5"),
        2,
    )
    assert "[-100, 100]" in line
    assert bytes(emu.raw) == b"", emu.raw  # no soft reset, no $$, no ?, no jog cancel


def test_a_second_process_on_the_same_port_gets_port_busy(run_cli, spawn_cli, grbls):
    emu = grbls(lose_bytes=0)
    first = spawn_cli(
        "move", "--drive", f"grbl:{emu.port}", "--limits", "-1000,1000", "--to", "900", "--speed", "100"
    )
    _wait(lambda: emu.moving, "the first move", first)
    resets = emu.realtime.count(0x18)
    line = _one_line(
        run_cli(
            "move", "--drive", f"grbl:{emu.port}", "--limits", "-1000,1000", "--to", "10", "--timeout", "0.5"
        ),
        3,
    )
    assert "busy" in line, line
    assert emu.realtime.count(0x18) == resets and emu.moving  # the first move was not disturbed
    first.send_signal(signal.SIGINT)
    _one_line(first, 130)


def _stopped_at(err: str) -> float:
    m = re.search(r"stopped at (-?[0-9.]+) um", err)
    assert m, err
    return float(m.group(1))


def test_ctrl_c_during_move_reports_where_the_decelerating_motor_came_to_rest(spawn_cli, grbls):
    emu = grbls(lose_bytes=0, steps_per_mm=250.0, decel_mm_s2=0.1)  # a jog cancel rests ~50 um on
    proc = spawn_cli(
        "move", "--drive", f"grbl:{emu.port}", "--limits", "-1000,1000", "--to", "900", "--speed", "100"
    )
    _wait(lambda: emu.moving and emu.z_um > 20, "the move", proc)
    proc.send_signal(signal.SIGINT)
    line = _one_line(proc, 130)
    assert "interrupted; the drive stopped at" in line
    assert not emu.moving
    assert _stopped_at(line) == pytest.approx(emu.z_um, abs=4.0)


def test_ctrl_c_during_autofocus_reports_the_position_read_back_at_rest(spawn_cli, grbls, tmp_path):
    """The issue's case: GRBL decelerates after the jog cancel; the report must be the rest
    position, in the same words as ``move``."""
    emu = grbls(lose_bytes=0, steps_per_mm=250.0, decel_mm_s2=0.1)
    rig = tmp_path / "rig.toml"
    rig.write_text(f'[drive]\nspec = "grbl:{emu.port}"\nlimits = [-300, 300]\nspeed = 100\n')
    proc = spawn_cli(
        "autofocus",
        "--source",
        f"replay:{RECORDING}",
        "--rig",
        str(rig),
        "--range=-300,300",
        "--no-window",
        "--json",
    )
    _wait(lambda: emu.moving and abs(emu.z_um) > 20, "the first autofocus move", proc)
    proc.send_signal(signal.SIGINT)
    line = _one_line(proc, 130)
    assert "interrupted; the drive stopped at" in line
    assert not emu.moving
    assert _stopped_at(line) == pytest.approx(emu.z_um, abs=4.0)


def test_a_rig_naming_a_spy_port_is_refused_and_writes_nothing(run_cli, grbls, tmp_path):
    emu = grbls(lose_bytes=0)
    victim = tmp_path / "bashrc"
    rig = tmp_path / "rig.toml"
    rig.write_text(f'[drive]\nspec = "grbl:spy://{emu.port}?file={victim}"\nlimits = [-100, 100]\n')
    for args in (["move", "--rig", str(rig), "--to", "10"], ["rig", "check", str(rig)]):
        line = _one_line(run_cli(*args), 2)
        assert "spy://" in line and "does not allow" in line
    assert not victim.exists()
    assert bytes(emu.raw) == b""


@pytest.mark.parametrize("when", ["from-the-start", "mid-move"])
@pytest.mark.parametrize("text", ["nan", "inf"])
def test_a_non_finite_position_ends_move_with_one_line_not_a_hang(spawn_cli, grbls, text, when):
    """A board reporting Z = nan from the start made the move's deadline NaN: it never ended."""
    emu = grbls(lose_bytes=0)
    if when == "from-the-start":
        emu.z_text = text
    proc = spawn_cli(
        "move", "--drive", f"grbl:{emu.port}", "--limits", "-1000,1000", "--to", "900", "--speed", "200"
    )
    if when == "mid-move":
        _wait(lambda: emu.moving, "the move", proc)
        emu.z_text = text
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("focuscam move hung on a non-finite position")
    assert proc.returncode == 3, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "non-finite" in lines[0] and text in lines[0]
