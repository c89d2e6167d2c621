"""Property (issue 12, "must show"): over random sequences of moves, stops, faults and resyncs,
on every drive kind, with step grids and soft limits OFF the grid,

1. no motion command that would leave the soft limits ever reaches the device, checked in the
   device's own units on the wire (GRBL ``$J=`` Z in mm, Sangaboard ``mrz`` steps from the
   board's counter, the firmware's ``MOVE`` steps against the limits rounded inwards, the
   simulated controller's targets), and every target lies on the drive's step grid;
2. no position is trusted after a fault: a move that fails with a device fault leaves the
   position unknown, and while it is unknown moves are refused and send nothing.

Each kind opens its drive and peer once and runs every sequence on it (fast emulator
settings, tight timeouts, the virtual clock for the simulator), so a sequence costs a few
milliseconds. The default run checks ``FOCUSCAM_PROPERTY_N`` (200) fixed-seed sequences per
kind; ``pytest -m slow tests/drives/test_motion_property.py`` runs 10,000 per kind.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from focuscam.drives import open_drive
from focuscam.drives.base import grid_span
from focuscam.errors import Aborted, DeviceError, InputError, LimitError, PositionUnknownError

from .grbl_emulator import GrblEmulator
from .sangaboard_emulator import SangaboardEmulator

N_DEFAULT = int(os.environ.get("FOCUSCAM_PROPERTY_N", "200"))
N_SLOW = 10_000
COUNTS: dict[str, int] = {}


# ---------------------------------------------------------------------- the kinds
class Kind:
    """A drive on its peer, with the wire log in device units and the faults it can inject."""

    name = "kind"
    faults: tuple[str, ...] = ()
    limits = (0.0, 0.0)
    res_um = 0.0

    def commands(self) -> list[float]:
        """Every motion target that reached the device, in um (from device units); the list
        only grows (callers slice off what they checked already)."""
        raise NotImplementedError

    #: The motion lines the driver writes (matched in its port log, ``drive._line.sent``).
    motion = re.compile(r"^(\$J=|G[01]\b|mrz |N\d+ MOVE )")

    def written(self) -> int:
        """How many motion commands the driver has written to its port (exact: synchronous;
        the peer may log them later, e.g. when the machine is busy)."""
        sent = self.drive._line.sent
        while self._written_seen < len(sent):
            if self.motion.match(sent[self._written_seen]):
                self._written += 1
            self._written_seen += 1
        return self._written

    _written = 0
    _written_seen = 0
    checked = 0  # commands() already checked

    def inside(self, z_um: float) -> bool:
        lo, hi = self.limits
        return lo - 1e-9 <= z_um <= hi + 1e-9

    def on_grid(self, z_um: float) -> bool:
        k = z_um / self.res_um
        return abs(k - round(k)) < 1e-6

    def inject(self, fault: str) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        """Undo every injected fault (the peer behaves again)."""

    def recover(self) -> None:
        """Make the position known again, as a user would after a fault."""
        for _ in range(3):
            try:
                self.drive.resync()
                return
            except DeviceError:
                time.sleep(0.01)

    def close(self) -> None:
        self.drive.close()


class SimKind(Kind):
    name = "sim"
    faults = ("timeout", "disconnect")
    limits = (-401.5, 398.2)
    res_um = 3.0

    def __init__(self) -> None:
        self.drive = open_drive(
            "sim", limits=self.limits, resolution_um=self.res_um, backlash_um=10.0, speed_um_s=2000.0
        )

    def commands(self) -> list[float]:
        return self.drive.commands

    def written(self) -> int:
        return len(self.drive.commands)

    def inject(self, fault: str) -> None:
        self.drive.inject_fault(fault)

    def clear(self) -> None:
        self.drive._fault = None  # a fault injected before a refused move stays armed otherwise


class GrblKind(Kind):
    name = "grbl"
    faults = ("silent", "garbage", "alarm", "reset", "nan", "wild", "refuse")
    limits = (-401.3, 397.9)  # 250 steps/mm: a 4 um grid; both limits off it

    def __init__(self) -> None:
        self.emu = GrblEmulator(lose_bytes=0, steps_per_mm=250.0, time_scale=4.0)
        self.res_um = 4.0
        self._seen = 0
        self._rel_seen = 0
        self._sent: list[float] = []
        self.drive = open_drive(
            f"grbl:{self.emu.port}",
            limits=self.limits,
            backlash_um=10.0,
            speed_um_s=20000.0,
            timeout_s=0.15,
            poll_s=0.001,
        )

    def commands(self) -> list[float]:
        received = self.emu.received
        while self._seen < len(received):
            line = received[self._seen]
            self._seen += 1
            if line.startswith(("$J", "G0", "G1")):
                m = re.search(r"Z(-?[0-9.]+)", line)
                assert m, f"a motion command the property cannot check: {line!r}"
                if "G91" not in line:
                    self._sent.append(float(m.group(1)) * 1000.0)
        # a relative jog: GRBL adds it to the target its parser kept (unrounded) and moves to
        # that target's nearest step (lround); the target must be inside, and so the end
        rel = self.emu.relative_targets_um
        while self._rel_seen < len(rel):
            z = rel[self._rel_seen]
            self._rel_seen += 1
            assert self.inside(z), f"a G91 jog put GRBL's target at {z} um, outside {self.limits}"
            self._sent.append(math.copysign(math.floor(abs(z / self.res_um) + 0.5), z) * self.res_um)
        return self._sent

    def inject(self, fault: str) -> None:
        emu = self.emu
        if fault == "silent":
            emu.silent = True
        elif fault == "garbage":
            emu.garbage(b"\xfe\xff junk\r\n")
        elif fault == "alarm":
            emu.alarm_mid_move = 1
        elif fault == "reset":
            emu.reset_mid_move = True
        elif fault == "nan":
            emu.z_text = "nan"
        elif fault == "wild":
            emu.wild_report = -9.999
        elif fault == "refuse":
            emu.refuse_next = 15

    def clear(self) -> None:
        emu = self.emu
        emu.silent = False
        emu.z_text = None
        emu.alarm_mid_move = None
        emu.reset_mid_move = False
        emu.refuse_next = None
        emu.wild_report = None

    def recover(self) -> None:
        # after an alarm the user checked the machine and passed --unlock (allow_unlock=True)
        self.drive._allow_unlock = True
        try:
            super().recover()
        finally:
            self.drive._allow_unlock = False

    def close(self) -> None:
        super().close()
        self.emu.close()


class SangaboardKind(Kind):
    faults = ("silent", "garbage", "reset")

    def __init__(self, style: str) -> None:
        self.name = f"sangaboard-{style}"
        spu = 0.5  # 2 um steps
        self.res_um = 1.0 / spu
        self.limits = (-301.9, 299.9)  # 2 um steps: both limits 0.1 um short of a step
        self.emu = SangaboardEmulator(style=style, steps_per_um=spu, steps_per_s=60000.0, lose_bytes=0)
        self.drive = open_drive(
            f"sangaboard:{self.emu.port}",
            limits=self.limits,
            steps_per_um=spu,
            backlash_um=10.0,
            timeout_s=0.15,
        )

    def commands(self) -> list[float]:
        return self.emu.targets_um  # the board's counter + each mrz, in steps / steps_per_um

    def inject(self, fault: str) -> None:
        if fault == "silent":
            self.emu.silent = True
        elif fault == "garbage":
            self.emu.garbage(b"\xfe\xff junk\r\n")
        elif fault == "reset":
            self.emu.reset_mid_move = True

    def clear(self) -> None:
        self.emu.silent = False
        self.emu.reset_mid_move = False

    def close(self) -> None:
        super().close()
        self.emu.close()


class FirmwareKind(Kind):
    name = "firmware-host"
    faults = ("mute", "drop", "corrupt", "reset")
    limits = (-300.45, 299.95)  # 2 steps/um: LIM -600 599 (inwards; outwards was -601 600)

    def __init__(self) -> None:
        from firmware.peers import FirmwareProcess, PtyProxy

        self.spu = 2.0
        self.res_um = 1.0 / self.spu
        self.fw = FirmwareProcess("host", "--scale", "20")
        self.proxy = PtyProxy(self.fw.port)
        self.drive = open_drive(
            f"focuscam:{self.proxy.port}",
            limits=self.limits,
            steps_per_um=self.spu,
            backlash_um=10.0,
            speed_um_s=2500.0,
            accel_um_s2=50000.0,
            timeout_s=0.15,
            retries=1,
        )
        self.lim_steps = grid_span(*self.limits, self.res_um)
        assert self.lim_steps == (math.ceil(self.limits[0] * self.spu), math.floor(self.limits[1] * self.spu))
        self._sent: list[float] = []

    def commands(self) -> list[float]:
        lo, hi = self.lim_steps
        targets = self.proxy.targets
        while len(self._sent) < len(targets):
            steps = targets[len(self._sent)]
            assert lo <= steps <= hi, f"MOVE {steps} steps reached the firmware: LIM is {lo}..{hi}"
            self._sent.append(steps / self.spu)
        return self._sent

    def inject(self, fault: str) -> None:
        if fault == "mute":
            self.proxy.mute = True
        elif fault == "drop":
            self.proxy.drop_replies = 1
        elif fault == "corrupt":
            self.proxy.corrupt_to_host = 1
        elif fault == "reset":
            threading.Timer(0.005, self.fw.reset).start()

    def clear(self) -> None:
        self.proxy.mute = False
        self.proxy.drop_replies = 0
        self.proxy.corrupt_to_host = 0

    def recover(self) -> None:
        super().recover()
        if not self.drive.position_known:  # a reset: the user declares where the optics are
            try:
                self.drive.declare_position(0.0)
            except DeviceError:
                pass

    def close(self) -> None:
        super().close()
        self.proxy.close()
        self.fw.close()


# ---------------------------------------------------------------------- sequences
def _z(kind: Kind) -> st.SearchStrategy[float]:
    """Targets anywhere, and within two grid steps of a limit (where rounding would pass it)."""
    lo, hi = kind.limits
    w = 2 * kind.res_um
    near = st.sampled_from([lo, hi]).flatmap(lambda edge: st.floats(edge - w, edge + w))
    return st.one_of(st.floats(lo - 60.0, hi + 60.0), near, near)


def _ops(kind: Kind) -> st.SearchStrategy[list[tuple]]:
    z = _z(kind)
    span = kind.limits[1] - kind.limits[0]
    op = st.one_of(
        st.tuples(st.just("to"), z),
        st.tuples(st.just("by"), st.floats(-span * 0.6, span * 0.6)),
        st.tuples(st.just("stop"), z),
        st.tuples(st.just("fault"), st.sampled_from(kind.faults), z),
        st.tuples(st.just("resync")),
    )
    return st.lists(op, min_size=1, max_size=5)


def _run_sequence(kind: Kind, ops: list[tuple]) -> None:
    drive = kind.drive
    kind.clear()
    if not drive.position_known:
        kind.recover()
    for op in ops:
        before = kind.written()
        was_known = drive.position_known
        fault_injected = False
        try:
            if op[0] == "to":
                drive.move_to(op[1])
            elif op[0] == "by":
                drive.move_by(op[1])
            elif op[0] == "stop":
                timer = threading.Timer(0.002, drive.stop)
                timer.start()
                try:
                    drive.move_to(op[1])
                finally:
                    timer.join()
            elif op[0] == "fault":
                kind.inject(op[1])
                fault_injected = True
                drive.move_to(op[2])
            else:
                drive.resync()
        except PositionUnknownError:
            if not was_known:
                assert kind.written() == before, f"{op}: a move was sent while the position was unknown"
        except (LimitError, InputError):
            assert kind.written() == before, f"{op}: a refused move was sent"
        except Aborted:
            pass
        except DeviceError as exc:
            assert not drive.position_known, f"{op}: {type(exc).__name__} ({exc}) left the position trusted"
        if fault_injected:
            kind.clear()
    _check_wire(kind)


def _check_wire(kind: Kind) -> None:
    """Every motion command the peer received since the last check: inside, on the grid."""
    cmds = kind.commands()
    sent, kind.checked = cmds[kind.checked :], len(cmds)
    assert all(kind.inside(z) for z in sent), [z for z in sent if not kind.inside(z)]
    assert all(kind.on_grid(z) for z in sent), [z for z in sent if not kind.on_grid(z)]


KINDS = {
    "sim": SimKind,
    "grbl": GrblKind,
    "sangaboard-0.4": lambda: SangaboardKind("0.4"),
    "sangaboard-0.5": lambda: SangaboardKind("0.5"),
    "firmware-host": FirmwareKind,
}
PARAMS = [pytest.param(k, marks=pytest.mark.firmware) if k == "firmware-host" else k for k in KINDS]


@pytest.fixture(scope="module", params=PARAMS)
def kind(request):
    k = KINDS[request.param]()
    yield k
    k.close()


def _check(kind: Kind, n: int, *, derandomize: bool) -> None:
    count = 0

    @settings(
        max_examples=n,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(ops=_ops(kind))
    def prop(ops):
        nonlocal count
        count += 1
        _run_sequence(kind, ops)

    prop()
    _check_wire(kind)
    COUNTS[kind.name] = count
    print(f"\n{kind.name}: {count} sequences, {len(kind.commands())} motion commands checked")
    assert count == n  # every example ran (none filtered away)


def test_no_command_past_a_limit_and_no_trusted_position_after_a_fault(kind):
    _check(kind, N_DEFAULT, derandomize=True)


@pytest.mark.large
@pytest.mark.slow
def test_ten_thousand_sequences_per_drive_kind(kind):
    _check(kind, N_SLOW, derandomize=False)
