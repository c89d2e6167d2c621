"""``focuscam move`` and ``focuscam ports`` run as processes; the GRBL case drives the emulator
on a pseudo-terminal in this test process while the CLI process opens the slave path."""

from __future__ import annotations

import json

import pytest

from .grbl_emulator import GrblEmulator


@pytest.fixture
def grbl():
    emu = GrblEmulator(lose_bytes=1)
    yield emu
    emu.close()


def _one_line_error(proc, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_sim_move_to_prints_the_reached_position(run_cli):
    proc = run_cli("move", "--drive", "sim", "--to", "120.5")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "120.500 um"


def test_sim_move_by_json(run_cli):
    proc = run_cli("move", "--drive", "sim", "--by", "-12", "--limits", "-100,100", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["z"] == pytest.approx(-12.0)
    assert out["drive"] == "sim"
    assert out["limits"] == [-100.0, 100.0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--drive", "sim", "--to", "6000"], "soft limits [-5000, 5000]"),
        (["--drive", "sim", "--to", "60", "--limits", "0,50"], "soft limits [0, 50]"),
        (["--drive", "sim", "--to", "nan"], "finite"),
        (["--drive", "grbl:/dev/ttyUSB9", "--to", "1"], "--limits is required"),
        (["--drive", "nope:1", "--to", "1"], "sim, grbl:PORT"),
        (["--drive", "sim", "--to", "1", "--steps-per-um", "3"], "--steps-per-um does not apply"),
        (["--drive", "sim", "--to", "1", "--limits", "5"], "MIN,MAX"),
    ],
)
def test_bad_requests_are_one_line_exit_2(run_cli, args, needle):
    line = _one_line_error(run_cli("move", *args), 2)
    assert needle in line


def test_to_and_by_are_exclusive(run_cli):
    _one_line_error(run_cli("move", "--drive", "sim", "--to", "1", "--by", "2"), 2)


def test_a_missing_port_is_a_device_error(run_cli):
    line = _one_line_error(
        run_cli("move", "--drive", "grbl:/dev/no-such-tty", "--limits", "0,5", "--to", "1"), 3
    )
    assert "focuscam ports" in line


def test_grbl_move_through_the_emulator(run_cli, grbl):
    proc = run_cli(
        "move",
        "--drive",
        f"grbl:{grbl.port}",
        "--limits",
        "-1000,1000",
        "--to",
        "250",
        "--timeout",
        "0.5",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["z"] == pytest.approx(250.0, abs=1.0)
    assert grbl.z_um == pytest.approx(250.0, abs=1.0)
    assert grbl.targets_um == [pytest.approx(250.0)]
    assert not grbl.moving


def test_grbl_move_outside_the_limits_sends_nothing(run_cli, grbl):
    line = _one_line_error(
        run_cli(
            "move", "--drive", f"grbl:{grbl.port}", "--limits", "-100,100", "--to", "250", "--timeout", "0.5"
        ),
        2,
    )
    assert "[-100, 100]" in line
    assert grbl.targets_um == []
    assert not any(cmd.startswith(("$J", "G0", "G1")) for cmd in grbl.received)


def test_grbl_in_alarm_needs_unlock(run_cli):
    emu = GrblEmulator(lose_bytes=0, boot_alarm=True)
    try:
        args = [
            "move",
            "--drive",
            f"grbl:{emu.port}",
            "--limits",
            "-500,500",
            "--to",
            "10",
            "--timeout",
            "0.5",
        ]
        line = _one_line_error(run_cli(*args), 3)
        assert "alarm" in line and "unlock" in line
        assert emu.targets_um == []
        proc = run_cli(*args, "--unlock")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "10.0 um"  # printed to a tenth of the 4 um grid
    finally:
        emu.close()


def test_ports_lists_or_says_none(run_cli):
    proc = run_cli("ports")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "ports printed nothing"
    proc = run_cli("ports", "--json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list)
    assert all({"device", "description", "hwid"} <= set(r) for r in rows)
    from serial.tools import list_ports

    assert sorted(r["device"] for r in rows) == sorted(p.device for p in list_ports.comports())


def test_ctrl_c_stops_the_motor(grbl, spawn_cli):
    import signal
    import time

    args = ["move", "--drive", f"grbl:{grbl.port}", "--limits", "-1000,1000", "--to", "900", "--speed", "200"]
    proc = spawn_cli(*args, "--timeout", "0.5")
    deadline = time.monotonic() + 120  # a ceiling: the CLI starts slowly on a loaded machine
    while not grbl.moving:
        assert proc.poll() is None and time.monotonic() < deadline, "the move never started"
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(0.1)
    assert not grbl.moving, "the motor kept moving after Ctrl-C"
    assert 0 < grbl.z_um < 900
    assert 0x85 in grbl.realtime


def _board(kind: str, grid_um: float):
    if kind == "grbl":
        return GrblEmulator(lose_bytes=0, steps_per_mm=1000.0 / grid_um), []
    from .sangaboard_emulator import SangaboardEmulator

    emu = SangaboardEmulator(style="0.5", steps_per_um=1.0 / grid_um, lose_bytes=0, start_steps=0)
    return emu, ["--steps-per-um", f"{1.0 / grid_um:g}"]


def test_relative_moves_in_two_processes_on_grbl_do_not_accumulate_rounding(run_cli):
    """Issue 12 item 6 across processes: GRBL's parser keeps the unrounded target, and a new
    process's --by is a relative jog that GRBL adds to it: -30 twice at 4 um per step ends at
    -60 um (the grid point nearest -60), not -64. Each run says so in one line."""
    grid, dz = 4.0, -30.0  # GRBL's default 250 steps/mm: -30 um is 7.5 steps
    emu, _ = _board("grbl", grid)
    try:
        args = ["move", "--drive", f"grbl:{emu.port}", "--limits", "-1000,1000", "--timeout", "2"]
        base = 0.0
        for run in (1, 2, 3):
            proc = run_cli(*args, "--by", f"{dz:g}")
            assert proc.returncode == 0, proc.stderr
            z = float(proc.stdout.split()[0])
            total = run * dz
            assert abs(z - total) <= grid / 2 + 1e-9, (run, z)  # nearest the sum, not the chain
            assert z / grid == pytest.approx(round(z / grid)) and emu.z_um == pytest.approx(z)
            assert emu.received[-1].startswith("$J=G91 G21 Z-0.0300 ")
            lines = proc.stderr.strip().splitlines()
            if abs(z - (base + dz)) > 1e-9:
                assert len(lines) == 1, proc.stderr
                assert f"moved to {z:g} um, the nearest point of its {grid:g} um step grid" in lines[0]
                assert f"within half a step of {base:g} um" in lines[0]
            else:
                assert not lines, proc.stderr
            base = z
        assert base == pytest.approx(-92.0)  # -90 is 22.5 steps: lround gives -23 steps
    finally:
        emu.close()


def test_relative_moves_in_two_processes_on_a_sangaboard_say_that_the_grid_rounds_them(run_cli):
    """The Sangaboard counts whole steps and keeps no target: each run lands on the grid point
    nearest its own target and says so in one line (the next --by starts from there)."""
    grid, dz = 4.0, -30.0
    emu, extra = _board("sangaboard", grid)
    try:
        args = ["move", "--drive", f"sangaboard:{emu.port}", "--limits", "-1000,1000", *extra]
        base = 0.0
        for _ in range(2):
            proc = run_cli(*args, "--by", f"{dz:g}", "--timeout", "0.5")
            assert proc.returncode == 0, proc.stderr
            z = float(proc.stdout.split()[0])
            assert abs(z - (base + dz)) <= grid / 2 + 1e-9  # the nearest grid point
            assert z / grid == pytest.approx(round(z / grid))
            assert emu.z_um == pytest.approx(z)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1, proc.stderr
            assert f"moved by {z - base:g} um, not {dz:g}, to {z:g} um" in lines[0]
            assert f"{grid:g} um step grid" in lines[0] and f"starts from {z:g} um" in lines[0]
            base = z  # what the next process starts from: the position read back
    finally:
        emu.close()
