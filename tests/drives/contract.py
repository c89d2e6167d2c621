"""The shared contract every focus drive must pass, run against each driver and its peer.

How to run it against a drive (e.g. ``tests/firmware/test_contract_firmware.py``)::

    import pytest
    from drives.contract import DriveContract, Rig

    class TestFirmwareContract(DriveContract):
        @pytest.fixture
        def make_rig(self):
            rigs = []
            def make(*, backlash_um=0.0, mech_backlash_um=0.0):
                peer = start_my_peer(mech_backlash_um=mech_backlash_um)   # firmware on a pty ...
                drive = open_drive(f"focuscam:{peer.port}", limits=DriveContract.LIMITS,
                                   backlash_um=backlash_um, timeout_s=0.5)
                rig = Rig(drive=drive, resolution_um=..., targets_um=lambda: peer.targets_um,
                          mechanical_um=lambda: peer.mechanical_um, moving=lambda: peer.moving,
                          fail_replies=..., close=peer.close)
                rigs.append(rig)
                return rig
            yield make
            for rig in rigs:
                rig.shutdown()

(``tests/drives/__init__.py`` makes ``drives`` importable from every test folder: pytest puts
``tests/`` on ``sys.path`` for ``tests/conftest.py``.)

The factory ``make_rig(backlash_um=..., mech_backlash_um=...)`` returns a :class:`Rig` whose
drive is open with limits :attr:`DriveContract.LIMITS` (um), at 0 um, the given backlash
*compensation*, on a peer that models a mechanical dead band of ``mech_backlash_um``; a move
of 900 um must take at least ~0.3 s of real time (so a stop lands mid-move) and a reply that
never comes must time out within ~1 s. Set ``stops_mid_move = False`` or
``models_backlash = False`` on the subclass for peers that cannot model those (the UVC fake).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from focuscam.errors import Aborted, DeviceError, InputError, LimitError, PositionUnknownError
from focuscam.types import ZLimits


@dataclass
class Rig:
    """A drive and the handles on its peer the contract needs (positions in um)."""

    drive: object
    resolution_um: float
    targets_um: Callable[[], list[float]]  # absolute targets of every motion command the peer got
    mechanical_um: Callable[[], float]  # the peer's optics position (through its dead band)
    moving: Callable[[], bool]
    fail_replies: Callable[[bool], None]  # True: the peer stops answering (a reply never comes)
    close: Callable[[], None] = field(default=lambda: None)

    def shutdown(self) -> None:
        """Close the drive (idempotent) and the peer."""
        try:
            self.drive.close()
        except DeviceError:
            pass  # a peer that vanished in the test: the drive is closed anyway
        self.close()


#: The ceiling of every wait for an event of a peer (a move starting, a motor at rest, a thread
#: ending): it only turns a hang into a failure; a loaded machine never reaches it.
HANG_S = 120.0


def _wait_until(cond: Callable[[], bool], timeout: float = HANG_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def _move_in_thread(drive, z: float) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(drive.move_to(z))
        except Exception as exc:  # the test inspects what the move raised
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


class DriveContract:
    """Subclass with a ``make_rig`` fixture to run the whole contract against a drive."""

    LIMITS = (-1000.0, 1000.0)
    stops_mid_move = True
    models_backlash = True

    @pytest.fixture
    def make_rig(self):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError("define a make_rig fixture in the subclass")

    # ------------------------------------------------------------------ moves
    def test_move_to_returns_the_read_back_position(self, make_rig):
        rig = make_rig()
        for z in (100.0, -250.5, 1000.0):  # the limits are inclusive
            got = rig.drive.move_to(z)
            assert abs(got - z) <= rig.resolution_um, (z, got)
            assert not rig.moving(), "move_to returned before the motion finished"
            assert rig.drive.position == pytest.approx(got, abs=rig.resolution_um)

    def test_move_by_is_relative_and_returns_the_read_back_position(self, make_rig):
        rig = make_rig()
        start = rig.drive.move_to(120.0)
        got = rig.drive.move_by(-70.0)
        assert abs(got - (start - 70.0)) <= rig.resolution_um
        got2 = rig.drive.move_by(300.0)
        assert abs(got2 - (got + 300.0)) <= 2 * rig.resolution_um
        assert not rig.moving()

    def test_limits_are_exposed_in_um(self, make_rig):
        rig = make_rig()
        assert rig.drive.limits == ZLimits(*self.LIMITS)

    # ------------------------------------------------------------------ soft limits
    @pytest.mark.parametrize("z", [1000.5, -1000.01, 5000.0, -1e9])
    def test_move_outside_the_limits_is_refused_before_anything_is_sent(self, make_rig, z):
        rig = make_rig()
        before = list(rig.targets_um())
        with pytest.raises(LimitError) as info:
            rig.drive.move_to(z)
        assert "-1000" in str(info.value) and "1000" in str(info.value)
        assert rig.targets_um() == before, "a command reached the device"
        assert abs(rig.drive.position) <= rig.resolution_um

    def test_move_by_outside_the_limits_is_refused_before_anything_is_sent(self, make_rig):
        rig = make_rig()
        rig.drive.move_to(900.0)
        before = list(rig.targets_um())
        with pytest.raises(LimitError):
            rig.drive.move_by(150.0)
        assert rig.targets_um() == before
        assert rig.drive.position == pytest.approx(900.0, abs=rig.resolution_um)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "12", None])
    def test_non_numbers_are_refused(self, make_rig, bad):
        rig = make_rig()
        before = list(rig.targets_um())
        with pytest.raises(InputError):
            rig.drive.move_to(bad)
        with pytest.raises(InputError):
            rig.drive.move_by(bad)
        assert rig.targets_um() == before

    def test_backlash_overshoot_outside_the_limits_is_refused(self, make_rig):
        rig = make_rig(backlash_um=50.0)
        before = list(rig.targets_um())
        with pytest.raises(LimitError) as info:
            rig.drive.move_to(-980.0)  # final approach from below would start at -1030 um
        assert "backlash" in str(info.value)
        assert rig.targets_um() == before

    # ------------------------------------------------------------------ backlash
    def _approach_both_ways(self, rig, target: float) -> tuple[float, float]:
        rig.drive.move_to(target + 300.0)
        rig.drive.move_to(target)  # from above
        from_above = rig.mechanical_um()
        rig.drive.move_to(target - 300.0)
        rig.drive.move_to(target)  # from below
        from_below = rig.mechanical_um()
        return from_above, from_below

    def test_backlash_same_target_gives_the_same_mechanical_position(self, make_rig):
        if not self.models_backlash:
            pytest.skip("this peer has no mechanical backlash model")
        rig = make_rig(backlash_um=30.0, mech_backlash_um=20.0)
        above, below = self._approach_both_ways(rig, 200.0)
        assert above == pytest.approx(below, abs=rig.resolution_um)
        # every final approach comes from below: the last target before each end is lower
        targets = rig.targets_um()
        assert all(t <= 200.0 + rig.resolution_um for t in targets[-2:])

    def test_without_compensation_the_dead_band_shows(self, make_rig):
        """The oracle check: the peer's dead band is real, so the test above can fail."""
        if not self.models_backlash:
            pytest.skip("this peer has no mechanical backlash model")
        rig = make_rig(backlash_um=0.0, mech_backlash_um=20.0)
        above, below = self._approach_both_ways(rig, 200.0)
        assert abs(above - below) == pytest.approx(20.0, abs=2 * rig.resolution_um)

    # ------------------------------------------------------------------ stop and close
    def test_stop_from_another_thread_halts_mid_move(self, make_rig):
        if not self.stops_mid_move:
            pytest.skip("moves of this peer are instantaneous")
        rig = make_rig()
        thread, outcome = _move_in_thread(rig.drive, 900.0)
        assert _wait_until(rig.moving), "the move never started"
        time.sleep(0.05)
        stopper = threading.Thread(target=rig.drive.stop, daemon=True)
        stopper.start()
        stopper.join(timeout=HANG_S)
        assert not stopper.is_alive(), "stop() blocked on the move in progress"
        thread.join(timeout=HANG_S)
        assert not thread.is_alive()
        assert isinstance(outcome[0], Aborted), outcome
        assert _wait_until(lambda: not rig.moving())
        z = rig.drive.position
        assert rig.resolution_um < z < 900.0 - rig.resolution_um
        assert rig.drive.position_known
        assert rig.drive.move_to(50.0) == pytest.approx(50.0, abs=rig.resolution_um)

    def test_stop_from_a_signal_handler_halts_a_move_in_this_thread(self, make_rig):
        if not self.stops_mid_move:
            pytest.skip("moves of this peer are instantaneous")
        if threading.current_thread() is not threading.main_thread():
            pytest.skip("signal handlers run only in the main thread")
        rig = make_rig()
        previous = signal.signal(signal.SIGALRM, lambda signum, frame: rig.drive.stop())
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.25)
            with pytest.raises(Aborted):
                rig.drive.move_to(900.0)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert _wait_until(lambda: not rig.moving())
        assert rig.resolution_um < rig.drive.position < 900.0 - rig.resolution_um

    def test_close_stops_motion_and_is_idempotent(self, make_rig):
        rig = make_rig()
        if self.stops_mid_move:
            thread, outcome = _move_in_thread(rig.drive, 900.0)
            assert _wait_until(rig.moving), "the move never started"
            time.sleep(0.05)
            rig.drive.close()
            thread.join(timeout=HANG_S)
            assert not thread.is_alive()
            assert isinstance(outcome[0], Aborted | DeviceError), outcome
            assert _wait_until(lambda: not rig.moving()), "the motor kept moving after close()"
            assert rig.targets_um()[-1] == pytest.approx(900.0, abs=rig.resolution_um)
        else:
            rig.drive.close()
        rig.drive.close()
        assert rig.drive.closed
        with pytest.raises(DeviceError):
            rig.drive.move_to(10.0)

    def test_context_manager_closes(self, make_rig):
        rig = make_rig()
        with rig.drive as drive:
            drive.move_to(10.0)
        assert rig.drive.closed

    # ------------------------------------------------------------------ unknown position
    def test_timeout_makes_the_position_unknown_until_resync(self, make_rig):
        rig = make_rig()
        rig.drive.move_to(100.0)
        rig.fail_replies(True)
        with pytest.raises(DeviceError):
            rig.drive.move_to(300.0)
        assert not rig.drive.position_known
        rig.fail_replies(False)
        sent = len(rig.targets_um())
        with pytest.raises(PositionUnknownError) as info:
            rig.drive.move_to(50.0)
        assert "resync" in str(info.value)
        with pytest.raises(PositionUnknownError):
            rig.drive.move_by(1.0)
        assert len(rig.targets_um()) == sent, "a move was sent while the position was unknown"
        _wait_until(lambda: not rig.moving())
        z = rig.drive.resync()
        assert rig.drive.position_known
        assert z == pytest.approx(rig.drive.position, abs=rig.resolution_um)
        assert rig.drive.move_to(50.0) == pytest.approx(50.0, abs=rig.resolution_um)

    # ------------------------------------------------------------------ trajectory
    def test_trajectory_records_moves_for_interpolation(self, make_rig):
        rig = make_rig()
        clock = rig.drive.clock
        t0 = clock.now()
        z = rig.drive.move_to(400.0)
        t1 = clock.now()
        samples = rig.drive.trajectory
        times = [t for t, _ in samples]
        assert times == sorted(times)
        assert samples[-1][1] == pytest.approx(z, abs=rig.resolution_um)
        assert rig.drive.position_at(t1) == pytest.approx(z, abs=rig.resolution_um)
        assert rig.drive.position_at(t0) == pytest.approx(0.0, abs=rig.resolution_um)
        if self.stops_mid_move:
            mid = rig.drive.position_at((t0 + t1) / 2)
            assert -rig.resolution_um <= mid <= 400.0 + rig.resolution_um
