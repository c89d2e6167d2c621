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
