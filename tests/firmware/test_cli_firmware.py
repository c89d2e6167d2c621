"""``focuscam move --drive focuscam:PORT`` as a process, against the host build on a pty."""

from __future__ import annotations

import json

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
    assert res.stdout.strip() == "69.500 um"
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
