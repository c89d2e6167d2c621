"""``focuscam move`` and ``autofocus`` with ``--drive focuscam:PORT`` as processes, against the
host build on a pty."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from .peers import FirmwareProcess

pytestmark = pytest.mark.firmware


@pytest.fixture
def fw():
    proc = FirmwareProcess("host")
    yield proc
    proc.close()


def test_move_prints_the_reached_position_and_the_firmware_keeps_it(fw, run_cli):
    drive = ["--drive", f"focuscam:{fw.port}", "--limits", "-500,500", "--steps-per-um", "2"]
    res = run_cli("move", *drive, "--to", "100", "--json", timeout=60)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["z"] == pytest.approx(100.0)
    assert fw.state()["phys"] == 200
    res = run_cli("move", *drive, "--by", "-30.5", timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "69.50 um"  # a tenth of the 0.5 um step
    assert fw.state()["phys"] == 139


@pytest.mark.parametrize("between", ["", "stop"])
def test_relative_moves_in_two_processes_add_up_on_the_target_the_firmware_keeps(fw, run_cli, between):
    """Issue 12 item 6 across processes: at 4 um per step, --by -30 twice ends at -60 um (the
    firmware keeps the sub-step aim of the first target), not -64. After the motor was stopped
    (the aim is then cleared) the second run starts from the step it stands on."""
    spu, dz = 0.25, -30.0
    drive = ["--drive", f"focuscam:{fw.port}", "--limits", "-500,500", "--steps-per-um", f"{spu:g}"]
    first = run_cli("move", *drive, "--by", f"{dz:g}", timeout=60)
    assert first.returncode == 0, first.stderr
    z1 = float(first.stdout.split()[0])
    assert first.stderr.count("\n") == 1 and f"moved to {z1:g} um, not {dz:g} um" in first.stderr
    assert f"keeps {dz:g} um as its target" in first.stderr
    if between == "stop":
        from .raw import RawPort

        port = RawPort(fw.port)
        try:
            port.sync()
            port.cmd("MOVR", 0)  # a relative move sets the target without an aim
        finally:
            port.close()
    second = run_cli("move", *drive, "--by", f"{dz:g}", timeout=60)
    assert second.returncode == 0, second.stderr
    z2 = float(second.stdout.split()[0])
    if between == "stop":
        assert abs(z2 - (z1 + dz)) <= 0.5 / spu + 1e-9  # from the step it stands on
        assert f"keeps {z1 + dz:g} um as its target" in second.stderr
    else:
        assert z2 == pytest.approx(2 * dz) and second.stderr == ""
    assert fw.state()["phys"] == round(z2 * spu)


def test_a_move_outside_the_limits_is_one_line_exit_2_and_nothing_moves(fw, run_cli):
    res = run_cli("move", "--drive", f"focuscam:{fw.port}", "--limits", "-500,500", "--to", "600", timeout=60)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "soft limits" in res.stderr and "Traceback" not in res.stderr
    assert fw.state()["phys"] == 0


def test_a_port_that_is_not_a_focuscam_motor_is_exit_3(run_cli, tmp_path):
    res = run_cli("move", "--drive", "focuscam:/dev/nonexistent-port", "--limits", "-5,5", "--to", "1")
    assert res.returncode == 3
    assert res.stderr.startswith("focuscam: error:") and res.stderr.count("\n") == 1


def test_ctrl_c_during_autofocus_stops_the_motor_where_it_says(fw, spawn_cli):
    """Ctrl-C in the middle of a move: exit 130, one line naming the position, motor stopped there."""
    recording = Path(__file__).resolve().parents[2] / "recordings" / "target_color"
    argv = ["autofocus", "--source", f"replay:{recording}", "--drive", f"focuscam:{fw.port}"]
    argv += ["--limits", "-300,300", "--no-window", "--json"]
    proc = spawn_cli(*argv)
    deadline = time.monotonic() + 60
    while fw.state()["moving"] == 0:
        assert proc.poll() is None and time.monotonic() < deadline, "the motor never started moving"
        time.sleep(0.01)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    z = float(re.search(r"stopped at (-?[0-9.]+) um", err).group(1))
    stopped = fw.state()
    assert stopped["moving"] == 0
    assert -300 < z < 300 and abs(stopped["pos"] - z) <= 1  # 1 step per um: the position it printed
    time.sleep(0.3)
    assert fw.state() == stopped  # and nothing moves afterwards
