"""SangaboardDrive against the Sangaboard emulator on a pseudo-terminal: both reply styles,
blocking and polling moves, steps conversion, and faults."""

from __future__ import annotations

import threading
import time

import pytest

from focuscam.drives import open_drive
from focuscam.errors import DeviceError, DeviceTimeout, InputError, PositionUnknownError, ProtocolError

from .pty_board import boards
from .sangaboard_emulator import SangaboardEmulator

LIMITS = (-1000.0, 1000.0)


@pytest.fixture
def emulators():
    yield from boards(SangaboardEmulator)


def _open(emu, **kw):
    kw.setdefault("limits", LIMITS)
    kw.setdefault("timeout_s", 0.5)
    kw.setdefault("steps_per_um", emu.steps_per_um)
    return open_drive(f"sangaboard:{emu.port}", **kw)


def _wait_until(cond, what: str) -> None:
    """Wait for a state of the emulator (an event), however loaded the machine; the ceiling only
    turns a hang into a failure."""
    deadline = time.monotonic() + 120
    while not cond():
        assert time.monotonic() < deadline, f"no {what} in 120 s"
        time.sleep(0.005)


def _later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


@pytest.mark.parametrize("style", ["0.5", "1.0"])
def test_version_check_and_step_conversion(emulators, style):
    emu = emulators(style=style, steps_per_um=2.5)
    with _open(emu) as drive:
        assert drive.version.startswith(style.split(".")[0] + ".")
        assert drive.move_to(100.0) == pytest.approx(100.0)
        assert emu.z_steps == 250
        assert "mrz 250" in emu.received
        drive.move_by(-0.4)  # one step is 0.4 um
        assert emu.z_steps == 249


def test_open_survives_a_command_mangled_while_booting(emulators):
    emu = emulators(lose_bytes=3)
    with _open(emu) as drive:
        assert drive.version
        assert emu.received.count("version") >= 1
        assert emu.received[0] != "version", "the first command should have been mangled"


def test_not_a_sangaboard_is_refused(emulators):
    emu = emulators()
    emu.silent = True
    with pytest.raises(DeviceError, match="no Sangaboard firmware"):
        _open(emu, timeout_s=0.2)


def test_limits_are_required():
    with pytest.raises(InputError, match="limits"):
        open_drive("sangaboard:loop://")


def test_polling_mode_records_mid_move_positions(emulators):
    emu = emulators()
    with _open(emu, blocking=False) as drive:
        drive.move_to(500.0)
        mid = [z for _, z in drive.trajectory if 1.0 < z < 499.0]
        assert len(mid) >= 3
        assert "moving?" in emu.received


@pytest.mark.parametrize("blocking", [True, False])
def test_reply_that_never_comes_mid_move(emulators, blocking):
    emu = emulators()
    drive = _open(emu, blocking=blocking)
    _later(0.1, lambda: setattr(emu, "silent", True))
    with pytest.raises(DeviceTimeout):
        drive.move_to(900.0)  # 1800 steps at 2000 steps/s: the timeout comes first
    assert not drive.position_known
    emu.silent = False
    with pytest.raises(PositionUnknownError):
        drive.move_to(0.0)
    _wait_until(lambda: not emu.moving, "the emulated motor finishing its move")
    assert drive.resync() == pytest.approx(emu.z_um, abs=0.5)
    drive.close()


def test_garbage_reply_is_a_protocol_error(emulators):
    emu = emulators()
    drive = _open(emu)
    emu.garbage(b"\x00\xff#@!\r\n")
    with pytest.raises(ProtocolError):
        drive.move_to(50.0)
    drive.close()


def test_partial_lines_are_assembled(emulators):
    emu = emulators()
    emu.fragment = True
    with _open(emu, blocking=False) as drive:
        assert drive.move_to(40.0) == pytest.approx(40.0)


def test_reset_mid_move_loses_the_position(emulators):
    emu = emulators()
    drive = _open(emu)
    emu.reset_mid_move = True
    with pytest.raises(DeviceError, match="reset itself"):
        drive.move_to(400.0)
    assert not drive.position_known
    assert drive.resync() == pytest.approx(0.0)
    drive.close()


def test_port_vanishing_mid_move(emulators):
    emu = emulators()
    drive = _open(emu)
    _later(0.1, emu.vanish)
    with pytest.raises(DeviceError):
        drive.move_to(900.0)
    assert not drive.position_known
    with pytest.raises(DeviceError):
        drive.close()
    assert drive.closed


def test_zero_and_release(emulators):
    emu = emulators()
    with _open(emu) as drive:
        drive.move_to(30.0)
        assert drive.zero() == 0.0
        assert emu.z_steps == 0
        drive.release()
        assert not drive.position_known
        with pytest.raises(PositionUnknownError):
            drive.move_to(1.0)
        drive.resync()
        assert drive.move_to(1.0) == pytest.approx(1.0)


def test_a_stop_while_idle_answers_later_and_is_skipped(emulators):
    """The v1.0 firmware answers every ``stop`` with ``Move aborted``, moving or not."""
    emu = emulators(style="1.0")
    with _open(emu) as drive:
        assert drive.move_to(10.0) == pytest.approx(10.0)
        drive.stop()
        _wait_until(lambda: emu.stops > 0, "the board receiving the stop")
        assert emu.stops == 1  # the stray "Move aborted" is on the wire now
        assert drive.position == pytest.approx(10.0)
        assert drive.move_to(20.0) == pytest.approx(20.0)
        assert emu.z_um == pytest.approx(20.0)
