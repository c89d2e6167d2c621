"""Fault tests against the host build: corruption in transit, lost replies, resets, limits.

Every test runs the real firmware core (compiled for the host) on a pty; faults are injected
by a pty proxy between FirmwareDrive and the firmware, or by rebooting the firmware process
through its control socket, or by sending raw protocol lines that bypass the host's checks.
"""

from __future__ import annotations

import threading
import time

import pytest

from focuscam.drives import open_drive
from focuscam.errors import DeviceError, DeviceTimeout, LimitError, PositionUnknownError

from .peers import FirmwareProcess, PtyProxy
from .raw import RawPort
from .rigs import STEPS_PER_UM, FirmwareRig

pytestmark = pytest.mark.firmware


@pytest.fixture
def rigs():
    made: list[FirmwareRig] = []

    def make(**kw) -> FirmwareRig:
        r = FirmwareRig("host", **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        try:
            r.drive.close()
        except DeviceError:
            pass  # a test that left the port broken on purpose
        r.close()


@pytest.fixture
def raw_board():
    fw = FirmwareProcess("host")
    port = None
    try:
        port = RawPort(fw.port)
        port.sync()
        yield fw, port
    finally:
        if port is not None:
            port.close()
        fw.close()


def _phys_um(rig: FirmwareRig) -> float:
    return rig.fw.state()["phys"] / STEPS_PER_UM


def _wait_still(rig: FirmwareRig) -> None:
    _wait_moving(rig, False)


def _wait_moving(rig: FirmwareRig, moving: bool = True) -> None:
    """Wait until the simulated motor is (not) moving: an event, however loaded the machine
    (the ceiling only turns a hang into a failure)."""
    deadline = time.monotonic() + 120
    while bool(rig.fw.state()["moving"]) != moving:
        assert time.monotonic() < deadline, f"the motor never {'started' if moving else 'stopped'}"
        time.sleep(0.005)


# ---------------------------------------------------------------------- corruption in transit
def test_a_command_corrupted_on_the_way_is_rejected_and_resent(rigs):
    rig = rigs()
    rig.proxy.corrupt_to_fw = 1
    assert rig.drive.move_to(100.0) == pytest.approx(100.0)
    assert len(rig.proxy.corrupted) == 1, "the proxy corrupted nothing: the test proves nothing"
    assert rig.drive.resends == 1
    assert rig.proxy.targets == [200]  # executed once, from the resent intact line
    assert _phys_um(rig) == pytest.approx(100.0)


def test_a_reply_corrupted_on_the_way_back_is_detected_and_the_command_not_run_twice(rigs):
    rig = rigs()
    rig.drive.move_to(50.0)
    before = list(rig.proxy.to_fw)
    rig.proxy.corrupt_to_host = 1
    assert rig.drive.move_by(25.0) == pytest.approx(75.0)
    assert len(rig.proxy.corrupted) == 1
    assert rig.drive.resends == 1
    sent = rig.proxy.to_fw[len(before) :]
    seqs = [line.split(b" ")[0] for line in sent]
    assert len(seqs) == len(set(seqs)) + 1, "exactly one line was resent with its sequence number"
    assert _phys_um(rig) == pytest.approx(75.0)


def test_a_repeated_sequence_number_is_answered_again_but_not_executed_twice(raw_board):
    fw, port = raw_board
    first = port.cmd("MOVR", 40, seq=77)
    port.wait_event("done")
    again = port.cmd("MOVR", 40, seq=77)  # the host never got the first reply: resends
    assert first == again and first.fields["target"] == "40"
    time.sleep(0.2)
    assert port.cmd("POS").fields["pos"] == "40"  # not 80
    assert fw.state()["phys"] == 40


def test_corrupted_and_malformed_lines_are_rejected_with_their_codes(raw_board):
    fw, port = raw_board
    bad_crc = port.reply(b"N5 MOVR 100*00\n")
    assert (bad_crc.ok, bad_crc.seq, bad_crc.code) == (False, 0, 1)
    no_crc = port.reply(b"N6 MOVR 100\n")
    assert (no_crc.ok, no_crc.code) == (False, 2)
    too_long = port.reply(b"N7 " + b"X" * 80 + b"*00\n")
    assert (too_long.ok, too_long.code) == (False, 10)
    binary = port.reply(b"N8 MO\x01VE 1*00\n")
    assert (binary.ok, binary.code) == (False, 2)
    unknown = port.cmd("FLY")
    assert (unknown.ok, unknown.code) == (False, 3)
    assert fw.state()["phys"] == 0, "a rejected line moved the motor"


# ---------------------------------------------------------------------- lost replies
def test_a_single_lost_reply_is_recovered_by_resending(rigs):
    rig = rigs()
    rig.proxy.drop_replies = 1
    assert rig.drive.move_to(-120.0) == pytest.approx(-120.0)
    assert len(rig.proxy.dropped) == 1
    assert rig.drive.resends == 1
    assert rig.drive.position_known


def test_replies_that_stop_mid_move_time_out_and_resync_rereads_the_position(rigs):
    rig = rigs()
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(rig.drive.move_to(900.0))
        except Exception as exc:  # inspected below
            outcome.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    _wait_moving(rig)
    rig.proxy.mute = True  # every reply and event is lost from now on
    t.join(timeout=20)
    assert not t.is_alive()
    assert isinstance(outcome[0], DeviceTimeout), outcome
    assert not rig.drive.position_known
    with pytest.raises(PositionUnknownError):
        rig.drive.move_to(0.0)
    rig.proxy.mute = False
    _wait_still(rig)
    z = rig.drive.resync()
    assert rig.drive.position_known
    assert z == pytest.approx(_phys_um(rig))  # re-synchronised to where the motor really is
    assert rig.drive.move_to(10.0) == pytest.approx(10.0)


# ---------------------------------------------------------------------- resets
def test_a_reset_mid_move_is_noticed_and_reported(rigs):
    rig = rigs(fw_args=("--switch-lo", "-1900"))
    outcome: list = []
    t = threading.Thread(target=lambda: outcome.append(_try(rig.drive.move_to, 900.0)), daemon=True)
    t.start()
    _wait_moving(rig)
    time.sleep(0.1)
    rig.fw.reset()
    t.join(timeout=10)
    assert not t.is_alive()
    err = outcome[0]
    assert isinstance(err, PositionUnknownError), err
    assert "reset" in str(err) and "home()" in str(err)
    assert not rig.drive.position_known
    # the step counter restarted at 0: re-reading it is not enough, the drive says so
    with pytest.raises(PositionUnknownError, match="reset"):
        rig.drive.resync()
    with pytest.raises(PositionUnknownError):
        rig.drive.move_to(0.0)
    # homing against the low switch makes it known again
    assert rig.drive.home() == pytest.approx(0.0)
    assert rig.drive.position_known
    assert rig.drive.move_to(100.0) == pytest.approx(100.0)
    assert _phys_um(rig) == pytest.approx(-1900 / STEPS_PER_UM + 1 / STEPS_PER_UM + 100.0)


def test_a_reset_whose_banner_was_lost_is_caught_by_the_session_mark(rigs):
    rig = rigs()
    rig.drive.move_to(300.0)
    rig.proxy.mute = True
    rig.fw.reset()  # the banner is lost with everything else
    time.sleep(0.1)
    rig.proxy.mute = False
    with pytest.raises(PositionUnknownError, match="reset"):
        rig.drive.move_to(350.0)  # the next move checks the mark first: nothing moves
    assert _phys_um(rig) == pytest.approx(300.0)
    assert rig.proxy.targets[-1] == 600, "a move was sent after the reset"
    with pytest.raises(PositionUnknownError, match="reset"):
        rig.drive.resync()
    assert not rig.drive.position_known
    # the user knows where the optics are (they did not move): declare it
    assert rig.drive.declare_position(300.0) == pytest.approx(300.0)
    assert rig.drive.move_to(310.0) == pytest.approx(310.0)
    assert _phys_um(rig) == pytest.approx(310.0)


# ---------------------------------------------------------------------- limits, defence in depth
def test_the_firmware_refuses_a_move_beyond_its_limits_even_when_the_host_check_is_bypassed(rigs):
    rig = rigs()
    rig.drive.move_to(10.0)
    with pytest.raises(LimitError, match="soft limits"):
        rig.drive._move_to(5000.0)  # the hook: skips FocusDrive's own limit check
    assert _phys_um(rig) == pytest.approx(10.0)
    assert rig.drive.position_known


def test_raw_move_lines_beyond_the_firmware_limits_are_refused(raw_board):
    fw, port = raw_board
    assert port.cmd("LIM", -100, 100).fields == {"lo": "-100", "hi": "100"}
    for cmd, arg in (("MOVE", 101), ("MOVE", -101), ("MOVR", 500), ("MOVE", 2**31 - 1)):
        r = port.cmd(cmd, arg)
        assert (r.ok, r.code) == (False, 5), (cmd, arg, r)
    ok = port.cmd("MOVE", 100)
    assert ok.ok
    port.wait_event("done")
    r = port.cmd("MOVR", 1)
    assert (r.ok, r.code) == (False, 5)
    assert fw.state()["phys"] == 100


def test_a_limit_switch_hit_stops_the_motor_and_is_reported(rigs):
    rig = rigs(fw_args=("--switch-hi", "1000"))  # a switch at 500 um, inside the soft limits
    with pytest.raises(DeviceError, match="limit switch"):
        rig.drive.move_to(900.0)
    assert _phys_um(rig) == pytest.approx(500.0)
    assert not rig.drive.position_known
    assert rig.drive.resync() == pytest.approx(500.0)  # counted steps: still valid
    with pytest.raises(DeviceError, match="switch"):
        rig.drive.move_to(600.0)  # refused: the switch is pressed in that direction
    assert rig.drive.resync() == pytest.approx(500.0)
    assert rig.drive.move_to(200.0) == pytest.approx(200.0)


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # returned for the test to inspect
        return exc


def test_homing_without_a_switch_gives_up_after_the_limit_span_with_a_fault(raw_board):
    fw, port = raw_board
    port.cmd("LIM", -100, 100)
    port.cmd("SPEED", 2000)
    assert port.cmd("HOME").ok
    fault = port.wait_event("fault", timeout=10)
    assert fault.args[0] == "11"
    travel = 200 + 200 // 4 + 200  # span + 25% + 200 steps (PROTOCOL.md, HOME)
    assert fw.state()["phys"] == -travel
    st = port.cmd("STATUS").fields
    assert (st["state"], st["fault"], st["homed"]) == ("fault", "11", "0")
    r = port.cmd("MOVE", 0)
    assert (r.ok, r.code) == (False, 7)  # moves wait for CLR or HOME
    assert port.cmd("CLR").ok
    assert port.cmd("MOVE", 0).ok


def test_drive_home_without_a_switch_is_a_device_error_and_the_position_stays_unknown(rigs):
    rig = rigs()
    with pytest.raises(DeviceError, match="no limit switch"):
        rig.drive.home()
    assert not rig.drive.position_known
    assert rig.drive.resync() == pytest.approx(_phys_um(rig))  # counted steps: resync works


def test_a_board_unplugged_and_plugged_back_is_reopened_by_resync(tmp_path):
    fw = FirmwareProcess("host")
    first = PtyProxy(fw.port)
    second = drive = None
    link = tmp_path / "ttyFOCUS"  # like /dev/serial/by-id/...: the name survives a replug
    link.symlink_to(first.port)
    try:
        drive = open_drive(f"focuscam:{link}", limits=(-1000, 1000), steps_per_um=STEPS_PER_UM, timeout_s=0.4)
        assert drive.move_to(100.0) == pytest.approx(100.0)
        first.close()  # unplugged: the port is dead
        with pytest.raises(DeviceError):
            drive.move_to(200.0)
        assert not drive.position_known
        second = PtyProxy(fw.port)  # plugged back
        link.unlink()
        link.symlink_to(second.port)
        assert drive.resync() == pytest.approx(100.0)  # same board, no reset: the count holds
        assert drive.move_to(150.0) == pytest.approx(150.0)
        assert fw.state()["phys"] == 300
    finally:
        if drive is not None:
            drive.close()
        for proxy in (first, second):
            if proxy is not None:
                proxy.close()
        fw.close()
