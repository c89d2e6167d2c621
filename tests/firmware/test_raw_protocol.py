"""The protocol spoken by hand to both builds: the host build and the AVR ELF under simavr.

identify, moves, stop mid-move (the realtime byte), the firmware's own limits, checksum
rejection, exactly-once resends, homing against a limit switch. The AVR runs are the bytes
that would be flashed, on an emulated ATmega328P.
"""

from __future__ import annotations

import time

import pytest

from focuscam.drives import _fwproto as fp

from .peers import FirmwareProcess
from .raw import RawPort

pytestmark = pytest.mark.firmware

KINDS = [pytest.param("host"), pytest.param("avr", marks=pytest.mark.avr)]


@pytest.fixture(params=KINDS)
def board(request):
    fw = FirmwareProcess(request.param, "--switch-lo", "-500", "--switch-hi", "5000")
    port = None
    try:
        port = RawPort(fw.port)
        port.sync()
        yield fw, port
    finally:
        if port is not None:
            port.close()
        fw.close()


def test_identify(board):
    fw, port = board
    r = port.cmd("ID")
    assert r.ok
    f = r.fields
    assert f["name"] == "focuscam-motor" and f["proto"] == str(fp.PROTO_VERSION)
    assert f["target"] == fw.kind
    assert f["version"].count(".") == 2 and f["build"]


def test_moves_absolute_and_relative_end_with_done_and_counted_steps(board):
    fw, port = board
    assert port.cmd("SPEED", 2000).fields == {"speed": "2000"}
    assert port.cmd("ACCEL", 20000).fields == {"accel": "20000"}
    assert port.cmd("MOVE", 300).fields == {"target": "300"}
    assert port.wait_event("done").args == ("300",)
    assert port.cmd("MOVR", -120).fields == {"target": "180"}
    assert port.wait_event("done").args == ("180",)
    assert port.cmd("POS").fields == {"pos": "180"}
    st = port.cmd("STATUS").fields
    assert (st["state"], st["pos"], st["target"]) == ("idle", "180", "180")
    assert fw.state()["phys"] == 180  # the step pulses the board really produced


def test_the_realtime_byte_stops_mid_move(board):
    fw, port = board
    port.cmd("SPEED", 1000)
    port.cmd("MOVE", 3000)
    deadline = time.monotonic() + 5
    while fw.state()["phys"] < 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    port.send(fp.RT_STOP)
    stopped = int(port.wait_event("stopped").args[0])
    assert 50 <= stopped < 3000
    time.sleep(0.1)
    assert not fw.state()["moving"]
    assert port.cmd("POS").fields == {"pos": str(stopped)}
    assert fw.state()["phys"] == stopped


def test_the_firmware_refuses_moves_beyond_its_soft_limits(board):
    fw, port = board
    assert port.cmd("LIM", -100, 100).ok
    for cmd, arg in (("MOVE", 101), ("MOVE", -101), ("MOVR", 101)):
        r = port.cmd(cmd, arg)
        assert (r.ok, r.code, r.name) == (False, 5, "LIMIT"), (cmd, arg, r)
    assert port.cmd("LIM", 5, -5).code == 4  # lo > hi
    time.sleep(0.1)
    assert fw.state()["phys"] == 0


def test_corrupted_lines_are_rejected_and_a_resend_runs_once(board):
    fw, port = board
    good = fp.encode_command(9, "MOVR", 25)
    bad = good.replace(b"25", b"26")  # the checksum no longer matches
    r = port.reply(bad)
    assert (r.ok, r.seq, r.code) == (False, 0, 1)
    assert port.reply(good).ok
    port.wait_event("done")
    assert port.reply(good).fields == {"target": "25"}  # answered again, not executed again
    time.sleep(0.1)
    assert port.cmd("POS").fields == {"pos": "25"}
    assert fw.state()["phys"] == 25


def test_homing_finds_the_low_switch_and_zeroes(board):
    fw, port = board
    port.cmd("SPEED", 2000)
    port.cmd("MOVE", 200)
    port.wait_event("done")
    assert port.cmd("HOME").fields == {"state": "homing"}
    assert port.wait_event("homed", timeout=20).args == ("0",)
    st = port.cmd("STATUS").fields
    assert (st["state"], st["pos"], st["homed"], st["swlo"]) == ("idle", "0", "1", "0")
    assert fw.state()["phys"] == -499  # first step off the switch at -500


def test_the_firmware_keeps_the_aim_of_a_move_until_something_else_sets_the_target(board):
    """``MOVE <steps> <aim>`` (firmware 1.1): STATUS reports the host's sub-step remainder while
    the target stands; MOVR, a stop and ZERO set the target otherwise and clear it."""
    fw, port = board
    port.cmd("SPEED", 2000)
    assert port.cmd("MOVE", 40, -500).fields == {"target": "40"}
    st = _at_rest(port)
    assert (st["pos"], st["target"], st["aim"]) == ("40", "40", "-500")
    for bad in (1000, -1000):
        assert port.cmd("MOVE", 40, bad).code == 4  # |aim| < 1000: a remainder of one step
    assert port.cmd("MOVR", 2, 1).code == 4  # a relative move has no aim
    assert port.cmd("STATUS").fields["aim"] == "-500"  # refused commands change nothing
    port.cmd("MOVR", 2)
    assert _at_rest(port)["aim"] == "0"
    port.cmd("MOVE", 3000, 250)
    deadline = time.monotonic() + 5
    while fw.state()["phys"] < 80 and time.monotonic() < deadline:
        time.sleep(0.005)
    port.send(fp.RT_STOP)
    assert _at_rest(port)["aim"] == "0"  # stopped short: the aim is not where it stands
    port.cmd("MOVE", 10, 7)
    assert _at_rest(port)["aim"] == "7"
    assert port.cmd("ZERO", 5).ok
    assert port.cmd("STATUS").fields["aim"] == "0"


def _at_rest(port) -> dict[str, str]:
    """STATUS once the motor is no longer moving (events of short moves may pass unseen)."""
    while True:
        st = port.cmd("STATUS").fields
        if st["state"] != "moving":
            return st
