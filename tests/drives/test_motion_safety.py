"""Issue 12 (motion safety): step grids inside the limits in every driver, non-finite positions,
GRBL junk/wild reports/alarm wording, the OpenFlexure Motor Board v0.4, port URL allow-list."""

from __future__ import annotations

import math
import re
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.drives import open_drive
from focuscam.drives._serial import URL_SCHEMES, check_port
from focuscam.drives.sim import SimulatedDrive
from focuscam.drives.spec import parse_spec
from focuscam.drives.uvc import UvcFocusDrive
from focuscam.errors import Aborted, DeviceError, InputError, PositionUnknownError, ProtocolError

from .fake_capture import FakeFocusCapture
from .grbl_emulator import GrblEmulator
from .pty_board import boards
from .sangaboard_emulator import SangaboardEmulator


@pytest.fixture
def grbls():
    yield from boards(GrblEmulator)


@pytest.fixture
def sangaboards():
    yield from boards(SangaboardEmulator)


def _grbl(emu, limits=(-1000.0, 1000.0), **kw):
    kw.setdefault("timeout_s", 0.5)
    kw.setdefault("speed_um_s", 5000.0)
    return open_drive(f"grbl:{emu.port}", limits=limits, **kw)


def _jog_um(emu) -> list[float]:
    return [float(re.search(r"Z(-?[0-9.]+)", x).group(1)) * 1000 for x in emu.received if x.startswith("$J")]


# ---------------------------------------------------------------------- 1. grids inside the limits
@pytest.mark.parametrize("style", ["0.4", "0.5", "1.0"])
def test_sangaboard_target_at_an_off_grid_limit_stays_inside(sangaboards, style):
    # 0.1 steps/um (10 um steps), limits up to 115 um: 'mrz 12' from 0 would end at 120 um
    emu = sangaboards(style=style, steps_per_um=0.1, steps_per_s=400, lose_bytes=0, start_steps=0)
    with open_drive(f"sangaboard:{emu.port}", limits=(0, 115), steps_per_um=0.1, timeout_s=0.5) as drive:
        assert drive.resolution_um == pytest.approx(10.0)
        assert drive.move_to(115) == pytest.approx(110.0)
    assert emu.targets_um == [pytest.approx(110.0)]
    assert "mrz 11" in emu.received


def test_grbl_learns_its_grid_and_never_sends_past_an_off_grid_limit(grbls):
    emu = grbls(lose_bytes=0, steps_per_mm=1000.0)  # 1 um steps
    with _grbl(emu, limits=(-50, 100.06)) as drive:
        assert drive.resolution_um == pytest.approx(1.0)
        assert drive.move_to(100.06) == pytest.approx(100.0)
    assert _jog_um(emu) == [pytest.approx(100.0)]  # was Z0.1001: 100.1 um, past the limit


def test_grbl_relative_moves_on_a_4um_grid_do_not_accumulate_rounding(grbls):
    emu = grbls(lose_bytes=0, steps_per_mm=250.0)  # GRBL's default: 4 um per step
    with _grbl(emu) as drive:
        drive.move_by(-30)
        assert drive.move_by(-30) == pytest.approx(-60.0)
    assert emu.z_um == pytest.approx(-60.0)


def test_uvc_takes_its_focus_step():
    drive = UvcFocusDrive(FakeFocusCapture(), limits=(0, 250), settle_s=0, resolution_um=5.0)
    assert drive.resolution_um == 5.0
    assert drive.plan(248.0) == [pytest.approx(250.0)]
    assert drive.plan(3.0) == [pytest.approx(5.0)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    lo=st.floats(-5000, 5000),
    span=st.floats(0.0, 3000),
    spu=st.sampled_from([0.1, 0.25, 1.0, 2.0, 3.0, 16.0]),
)
def test_firmware_limits_are_rounded_inwards_to_whole_steps(lo, span, spu):
    """The LIM the host sends the firmware: the whole steps inside the host limits (none:
    LimitError before the port is touched)."""
    from focuscam.drives.base import grid_span
    from focuscam.drives.firmware import FirmwareDrive
    from focuscam.errors import LimitError

    hi = lo + span
    kmin, kmax = grid_span(lo, hi, 1.0 / spu)
    if kmin > kmax:
        with pytest.raises(LimitError, match="step"):
            FirmwareDrive("/dev/nonexistent-focuscam-port", limits=(lo, hi), steps_per_um=spu)
        return
    assert lo - 1e-6 <= kmin / spu and kmax / spu <= hi + 1e-6  # inside
    assert (kmin - 1) / spu < lo and (kmax + 1) / spu > hi  # and the widest such


# ---------------------------------------------------------------------- 2. non-finite positions
NON_FINITE = ["nan", "NaN", "inf", "-inf", "1e999", "-1e999"]


@pytest.mark.parametrize("text", NON_FINITE)
def test_grbl_non_finite_report_mid_move_is_a_protocol_error_not_a_hang(grbls, text):
    emu = grbls(lose_bytes=0)
    with _grbl(emu, speed_um_s=500.0) as drive:
        threading.Timer(0.05, lambda: setattr(emu, "z_text", text)).start()
        with pytest.raises(ProtocolError, match="non-finite"):
            drive.move_to(400)
        assert not drive.position_known
        with pytest.raises(ProtocolError, match=re.escape(text)):
            drive.resync()  # resync must not accept it as a known position
        assert not drive.position_known
        with pytest.raises(PositionUnknownError):
            drive.move_to(0)
        emu.z_text = None
        assert math.isfinite(drive.resync()) and drive.position_known


@pytest.mark.parametrize("text", NON_FINITE)
def test_grbl_non_finite_report_at_open_is_refused(grbls, text):
    emu = grbls(lose_bytes=0)
    emu.z_text = text
    with pytest.raises(ProtocolError, match="non-finite"):
        _grbl(emu)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "x"])
def test_grbl_bad_steps_per_mm_setting_is_refused(grbls, value):
    emu = grbls(lose_bytes=0)
    emu.steps_setting = value
    with pytest.raises(ProtocolError, match=r"\$102"):
        _grbl(emu)


@pytest.mark.parametrize("reply", ["0 0 nan", "0 0 inf", "0 0 " + "9" * 400])
def test_sangaboard_non_numeric_or_huge_positions_are_protocol_errors(sangaboards, reply):
    emu = sangaboards(lose_bytes=0)
    with open_drive(f"sangaboard:{emu.port}", limits=(-500, 500), steps_per_um=2.0, timeout_s=0.3) as drive:
        original = emu._line

        def lying(line: str) -> None:
            if line == "p?":
                emu._reply(reply)
            else:
                original(line)

        emu._line = lying
        with pytest.raises(ProtocolError):
            drive.position  # noqa: B018
        with pytest.raises(DeviceError):
            drive.resync()
        assert not drive.position_known


class _LyingDrive(SimulatedDrive):
    """A drive whose device reports a fixed position (NaN, Inf) when asked."""

    report: float | None = None

    def _read_position(self) -> float:
        return super()._read_position() if self.report is None else self.report


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_base_never_trusts_a_non_finite_position(value):
    drive = _LyingDrive(limits=(-100, 100))
    drive.report = value
    with pytest.raises(ProtocolError, match="not a finite number"):
        drive.resync()
    assert not drive.position_known
    with pytest.raises(ProtocolError):
        drive.position  # noqa: B018
    drive.report = None
    assert drive.resync() == 0.0 and drive.position_known
    drive.report = value
    with pytest.raises(ProtocolError):
        drive.move_to(10)  # the read-back after the move
    assert not drive.position_known


# ---------------------------------------------------------------------- 7. GRBL: junk, wild, alarms
def test_grbl_opens_although_junk_precedes_the_banner_on_every_reset(grbls):
    emu = grbls(lose_bytes=0, junk_before_banner=b"\xfe\xff\x00junk\r\n")
    with _grbl(emu, reset_on_open=True) as drive:  # an idle board that answers is not reset
        assert 0x18 in emu.realtime
        assert drive.version == "1.1h"
        assert drive.move_to(20) == pytest.approx(20.0)


def test_grbl_wild_mid_move_report_is_not_kept_in_the_trajectory(grbls):
    emu = grbls(lose_bytes=0)
    with _grbl(emu, speed_um_s=1000.0) as drive:
        emu.wild_report = -9.999  # mm: far off the path from 0 to 300 um
        assert drive.move_to(300) == pytest.approx(300.0)
        assert drive.wild_reports == 1
        assert all(-1 <= z <= 301 for _, z in drive.trajectory), drive.trajectory


def test_grbl_alarm_messages_name_the_cli_flag_and_the_python_parameter(grbls):
    emu = grbls(lose_bytes=0)
    emu.alarm_mid_move = 1
    with _grbl(emu, speed_um_s=1000.0) as drive:
        with pytest.raises(DeviceError) as info:
            drive.move_to(300)
        for exc in (info.value,):
            assert "pass --unlock (allow_unlock=True from Python)" in str(exc)
        with pytest.raises(PositionUnknownError) as info:
            drive.resync()
        assert "pass --unlock (allow_unlock=True from Python)" in str(info.value)


# ---------------------------------------------------------------------- 8. Sangaboard v0.4
def test_motor_board_v04_moves_without_the_commands_it_lacks(sangaboards):
    emu = sangaboards(style="0.4", lose_bytes=0)
    with open_drive(f"sangaboard:{emu.port}", limits=(-500, 500), steps_per_um=2.0, timeout_s=0.5) as drive:
        assert drive.legacy and drive.version == "0.4"
        assert drive.position == pytest.approx(-0.5)  # blank EEPROM: -1 steps
        assert drive.move_to(100) == pytest.approx(100.0)
        assert drive.move_by(-20.5) == pytest.approx(79.5)
    sent = {line.split()[0] for line in emu.received if line}
    assert not sent & {"stop", "moving?", "blocking_moves"}, emu.received


def test_motor_board_v04_stop_says_it_cannot_and_waits_for_the_end(sangaboards):
    emu = sangaboards(style="0.4", lose_bytes=0, steps_per_s=400)
    with open_drive(f"sangaboard:{emu.port}", limits=(-500, 500), steps_per_um=2.0, timeout_s=0.5) as drive:
        threading.Timer(0.1, drive.stop).start()
        with pytest.raises(Aborted, match="cannot stop mid-move"):
            drive.move_to(200)  # 400 steps: 1 s
        assert not drive.can_stop_mid_move
        assert not emu.moving and emu.z_um == pytest.approx(200.0)
        assert drive.position == pytest.approx(200.0) and drive.position_known
    assert "stop" not in emu.received


def test_motor_board_v04_refuses_non_blocking_mode(sangaboards):
    emu = sangaboards(style="0.4", lose_bytes=0)
    with pytest.raises(DeviceError, match="blocking=True"):
        open_drive(f"sangaboard:{emu.port}", limits=(-5, 5), blocking=False, timeout_s=0.3)


@pytest.mark.parametrize(
    "version",
    [
        "OpenFlexure Motor Board v0.3",
        "OpenFlexure Motor Board v0.6",
        "Sangaboard Firmware v0.4",
        "Sangaboard Firmware v2.0",
    ],
)
def test_an_unsupported_firmware_version_is_refused_naming_it(sangaboards, version):
    emu = sangaboards(lose_bytes=0, version_line=version)
    with pytest.raises(DeviceError, match=re.escape(version) + ".*does not support"):
        open_drive(f"sangaboard:{emu.port}", limits=(-5, 5), timeout_s=0.3)
    assert not any(line.startswith("mrz") for line in emu.received)


# ---------------------------------------------------------------------- 13. port URL handlers
@pytest.mark.parametrize(
    "port",
    [
        "spy:///dev/pts/1?file=/tmp/x",
        "SPY://x",
        "hwgrep://.*",
        "alt:///dev/ttyS0?class=PosixPollSerial",
        "cp2110://1",
    ],
)
@pytest.mark.parametrize("scheme", ["grbl", "sangaboard", "focuscam"])
def test_url_handlers_a_rig_does_not_need_are_refused(scheme, port):
    with pytest.raises(InputError, match="does not allow"):
        parse_spec(f"{scheme}:{port}")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(handler=st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,10}", fullmatch=True), rest=st.text(max_size=20))
def test_only_the_allowed_url_handlers_pass(handler, rest):
    url = f"{handler}://{rest}"
    if handler.lower() in URL_SCHEMES:
        assert check_port(url) == url
    else:
        with pytest.raises(InputError, match="does not allow"):
            check_port(url)


@pytest.mark.parametrize(
    "port",
    [
        "/dev/ttyUSB0",
        "/dev/serial/by-id/usb-x",
        "COM3",
        "socket://localhost:7000",
        "rfc2217://h:1",
        "loop://",
    ],
)
def test_device_paths_and_allowed_urls_pass(port):
    assert parse_spec(f"grbl:{port}") == ("grbl", port)
