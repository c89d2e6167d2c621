"""GrblDrive against the GRBL emulator on a pseudo-terminal: start-up, protocol details and
faults (timeouts, garbage, partial lines, resets, alarms, error replies, a vanishing port)."""

from __future__ import annotations

import threading
import time

import pytest

from focuscam.drives import open_drive
from focuscam.drives.grbl import parse_status
from focuscam.errors import DeviceError, DeviceTimeout, PositionUnknownError, ProtocolError

from .grbl_emulator import GrblEmulator
from .pty_board import boards

LIMITS = (-1000.0, 1000.0)


@pytest.fixture
def emulators():
    yield from boards(GrblEmulator)


def _open(emu, **kw):
    kw.setdefault("limits", LIMITS)
    kw.setdefault("timeout_s", 0.5)
    kw.setdefault("speed_um_s", 1000.0)
    return open_drive(f"grbl:{emu.port}", **kw)


def _later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_open_survives_bytes_lost_while_the_board_boots(emulators):
    # the bootloader eats both status probes and the first soft reset: a second reset is needed
    emu = emulators(lose_bytes=3)
    with _open(emu) as drive:
        assert drive.version == "1.1h"
        assert emu.dropped == b"??\x18", "both probes and the first soft reset should have been lost"
        assert emu.realtime.count(0x18) >= 1, "a second soft reset is needed"
        assert not drive.relative_on_device  # reset: its parser holds the step position only
        assert drive.move_to(10.0) == pytest.approx(10.0, abs=1.0)


def test_a_running_board_that_answers_is_not_reset_at_open(emulators):
    # the first probe is lost, the second is answered (Idle) and $I names GRBL 1.1: no reset,
    # so the parser keeps the target an earlier process sent
    emu = emulators(lose_bytes=1)
    with _open(emu) as drive:
        assert drive.version == "1.1h"
        assert emu.dropped == b"?"
        assert 0x18 not in emu.realtime and "$I" in emu.received
        assert drive.relative_on_device
        assert drive.move_to(10.0) == pytest.approx(10.0, abs=1.0)


@pytest.mark.parametrize("why", ["asked", "jogging", "not grbl 1.1"])
def test_a_board_is_reset_at_open_when_asked_moving_or_not_grbl_1_1(emulators, why):
    emu = emulators(lose_bytes=0, steps_per_mm=250.0)
    kw = {"reset_on_open": True} if why == "asked" else {}
    if why == "jogging":  # a jog left running (its process died): reset, as before
        emu.time_scale = 0.01
        emu.command("$J=G53 G21 Z0.1 F60")
        while emu.state != "Jog":
            time.sleep(0.005)
    if why == "not grbl 1.1":
        emu.build_info = "[VER:0.9j.20160303:]"
    with _open(emu, **kw) as drive:
        assert 0x18 in emu.realtime
        assert not drive.relative_on_device
        if why == "jogging":
            assert not drive.position_known  # a reset during motion: ALARM:3, position lost


def test_no_banner_is_a_clear_timeout(emulators):
    emu = emulators(lose_bytes=0)
    emu.silent = True
    with pytest.raises(DeviceTimeout, match="no GRBL banner"):
        _open(emu, timeout_s=0.2)


def test_moves_are_jogs_in_mm_and_status_reports_fill_the_trajectory(emulators):
    emu = emulators(lose_bytes=0)
    with _open(emu) as drive:
        drive.move_to(500.0)
        jogs = [line for line in emu.received if line.startswith("$J=")]
        assert jogs == ["$J=G53 G21 Z0.5000 F60.000"]
        mid = [z for _, z in drive.trajectory if 1.0 < z < 499.0]
        assert len(mid) >= 3, "no mid-move status reports were recorded"


def test_wpos_reports_are_converted_with_wco(emulators):
    emu = emulators(lose_bytes=0, wpos_reports=True, wco_mm=-2.0)
    with _open(emu) as drive:
        assert drive.position == pytest.approx(0.0, abs=1.0)
        assert drive.move_to(300.0) == pytest.approx(300.0, abs=1.0)
        assert emu.z_um == pytest.approx(300.0, abs=1.0)


def test_reply_that_never_comes_mid_move_makes_the_position_unknown(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    timer = _later(0.15, lambda: setattr(emu, "silent", True))
    with pytest.raises(DeviceTimeout):
        drive.move_to(900.0)
    timer.join()
    assert not drive.position_known
    emu.silent = False
    with pytest.raises(PositionUnknownError):
        drive.move_to(0.0)
    z = drive.resync()
    assert z == pytest.approx(emu.z_um, abs=1.0)
    assert not emu.moving, "resync must leave the axis at rest (jog cancelled)"
    assert drive.move_to(0.0) == pytest.approx(0.0, abs=1.0)
    drive.close()


def test_garbage_is_a_protocol_error_and_the_position_unknown(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    _later(0.1, lambda: emu.garbage(b"\xff\xfe<Idle|MP\x00\r\n"))
    with pytest.raises(ProtocolError, match="garbage"):
        drive.move_to(900.0)
    assert not drive.position_known
    assert drive.resync() == pytest.approx(emu.z_um, abs=1.0)
    drive.close()


def test_malformed_status_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        parse_status("<Idle|MPos:1.0,abc,3>")
    with pytest.raises(ProtocolError):
        parse_status("<Idle|FS:0,0>")
    report = parse_status("<Jog|MPos:0.000,0.000,1.250|FS:60,0|WCO:0.000,0.000,-2.000>")
    assert report.state == "Jog" and report.mpos[2] == 1.25 and report.wco[2] == -2.0


def test_partial_lines_are_assembled(emulators):
    emu = emulators(lose_bytes=0)
    emu.fragment = True
    with _open(emu) as drive:
        assert drive.move_to(200.0) == pytest.approx(200.0, abs=1.0)
        assert drive.move_to(-50.0) == pytest.approx(-50.0, abs=1.0)


def test_board_reset_mid_move_loses_the_position(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    emu.reset_mid_move = True
    with pytest.raises(DeviceError, match="reset itself"):
        drive.move_to(600.0)
    assert not drive.position_known
    with pytest.raises(PositionUnknownError):
        drive.move_by(10.0)
    # its counter restarted at 0: a plain resync must not trust it (issue 12: no position
    # trusted after a fault); only homing or the user's --unlock after checking
    with pytest.raises(PositionUnknownError, match="--unlock"):
        drive.resync()
    assert not drive.position_known
    drive.close()
    drive = _open(emu, allow_unlock=True)
    drive.move_to(0.0)  # after a fresh open (the user checked) it moves again
    emu.reset_mid_move = True
    with pytest.raises(DeviceError, match="reset itself"):
        drive.move_to(600.0)
    assert drive.resync() == pytest.approx(emu.z_um, abs=1.0)  # allowed: --unlock
    drive.close()


def test_soft_reset_mid_move_raises_alarm_3_and_needs_unlock(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    _later(0.15, emu.soft_reset)
    with pytest.raises(DeviceError, match="ALARM:3"):
        drive.move_to(900.0)
    assert not drive.position_known
    with pytest.raises(PositionUnknownError, match="allow_unlock"):
        drive.resync()
    assert emu.state == "Alarm"
    assert "$X" not in emu.received, "unlocked without permission"
    drive.close()
    unlocking = _open(emu, allow_unlock=True)
    assert not unlocking.position_known
    unlocking.resync()
    assert "$X" in emu.received
    assert unlocking.move_to(0.0) == pytest.approx(0.0, abs=1.0)
    unlocking.close()


def test_alarm_mid_move_names_its_meaning(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    emu.alarm_mid_move = 1
    with pytest.raises(DeviceError, match=r"ALARM:1 \(hard limit"):
        drive.move_to(500.0)
    assert not drive.position_known
    drive.close()


def test_error_reply_names_its_meaning(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    emu.refuse_next = 15
    with pytest.raises(DeviceError, match=r"error:15 \(jog target exceeds machine travel"):
        drive.move_to(500.0)
    drive.close()


def test_homing_disabled_is_reported(emulators):
    emu = emulators(lose_bytes=0)
    with _open(emu) as drive, pytest.raises(DeviceError, match="error:5"):
        drive.home()


def test_port_vanishing_mid_move(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    _later(0.15, emu.vanish)
    with pytest.raises(DeviceError):
        drive.move_to(900.0)
    assert not drive.position_known
    with pytest.raises(PositionUnknownError):
        drive.move_to(0.0)
    with pytest.raises(DeviceError, match="closed, but the stop"):
        drive.close()
    assert drive.closed
    drive.close()  # idempotent: nothing left to do


def test_stop_sends_jog_cancel_not_a_reset(emulators):
    emu = emulators(lose_bytes=0)
    drive = _open(emu)
    resets_at_open = emu.realtime.count(0x18)
    drive.stop()
    deadline = time.monotonic() + 120  # the emulator's reader thread receives it (an event)
    while 0x85 not in emu.realtime:
        assert time.monotonic() < deadline, "the jog cancel never reached the board"
        time.sleep(0.005)
    assert emu.realtime.count(0x18) == resets_at_open
    drive.close()


def test_ports_go_through_serial_for_url():
    # loop:// echoes what is sent: not a GRBL, but opened by the same code path as a tty
    with pytest.raises(DeviceTimeout, match="no GRBL banner on loop://"):
        open_drive("grbl:loop://", limits=LIMITS, timeout_s=0.1)
    with pytest.raises(DeviceError, match="cannot open GRBL port socket://"):
        open_drive("grbl:socket://127.0.0.1:1", limits=LIMITS, timeout_s=0.1)


def test_idle_right_after_ok_is_not_taken_for_the_end_of_the_move(emulators):
    emu = emulators(lose_bytes=0)
    emu.start_delay = 0.15
    with _open(emu) as drive:
        assert drive.move_to(200.0) == pytest.approx(200.0, abs=1.0)
        assert emu.z_um == pytest.approx(200.0, abs=1.0)
        assert not emu.moving
