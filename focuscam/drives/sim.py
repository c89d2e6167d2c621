"""A simulated focus stage: trapezoidal motion, settle time and a mechanical backlash dead band.

Runs on a virtual clock by default, so tests and replays run at full speed: a move advances the
clock by its modelled duration. ``clock="wall"`` runs it in real time (a move really takes its
duration, so :meth:`FocusDrive.stop` from another thread lands mid-move). Share the drive's
``clock`` with a replay source so frame times and positions agree.

Model (all in um and seconds): the *motor* position ``p`` follows a trapezoidal profile (speed
``speed_um_s``, acceleration ``accel_um_s2``); the *mechanical* (optics) position ``m`` lags
inside a dead band of width ``mechanical_backlash_um``: moving up, ``m = max(m, p - b/2)``;
moving down, ``m = min(m, p + b/2)``. The drive reads back the motor position (like a stepper
without an encoder); :attr:`SimulatedDrive.mechanical_position` is the ground truth for tests.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from ..errors import DeviceError, DeviceTimeout, InputError
from .base import FocusDrive, _finite

__all__ = ["Profile", "SimulatedDrive"]

FAULTS = ("timeout", "disconnect")


@dataclass(frozen=True)
class Profile:
    """A trapezoidal (or triangular) move from ``z0`` to ``z1`` (um) starting at ``t0`` (s)."""

    t0: float
    z0: float
    z1: float
    speed: float
    accel: float  # um/s^2; math.inf = instant speed changes

    @property
    def duration(self) -> float:
        """Duration of the move in s."""
        d = abs(self.z1 - self.z0)
        if d == 0:
            return 0.0
        v, a = self.speed, self.accel
        if math.isinf(a):
            return d / v
        d_acc = v * v / (2 * a)
        if 2 * d_acc >= d:
            return 2 * math.sqrt(d / a)
        return 2 * v / a + (d - 2 * d_acc) / v

    @property
    def t1(self) -> float:
        """End time of the move in s."""
        return self.t0 + self.duration

    def at(self, t: float) -> float:
        """Motor position in um at time ``t`` (s); clamped to the move's start and end."""
        d = abs(self.z1 - self.z0)
        tau = t - self.t0
        if d == 0 or tau <= 0:
            return self.z0
        total = self.duration
        if tau >= total:
            return self.z1
        sign = 1.0 if self.z1 > self.z0 else -1.0
        v, a = self.speed, self.accel
        if math.isinf(a):
            s = v * tau
        else:
            d_acc = v * v / (2 * a)
            if 2 * d_acc >= d:  # triangular
                t_acc = total / 2
                v_peak = a * t_acc
            else:
                t_acc = v / a
                v_peak = v
            if tau < t_acc:
                s = 0.5 * a * tau * tau
            elif tau <= total - t_acc:
                s = 0.5 * a * t_acc * t_acc + v_peak * (tau - t_acc)
            else:
                rem = total - tau
                s = d - 0.5 * a * rem * rem
        return self.z0 + sign * min(s, d)


class SimulatedDrive(FocusDrive):
    """A simulated focus stage; positions in um.

    Parameters
    ----------
    limits : ZLimits or (float, float) or str
        Soft limits in um (default -5000..5000 um).
    backlash_um : float
        Backlash *compensation* in um (the base class overshoot).
    mechanical_backlash_um : float
        The modelled dead band in um (what the compensation must defeat).
    speed_um_s : float
        Cruise speed in um/s (> 0).
    accel_um_s2 : float
        Acceleration in um/s^2 (> 0; ``math.inf`` for instant speed changes).
    settle_s : float
        Settle time in s waited after each move.
    start_um : float
        Initial position in um.
    clock : "virtual" (default), "wall" or a clock object
        The time base.
    approach : {"up", "down"}
        Direction of every final approach.
    resolution_um : float
        Step-grid pitch in um (0 = continuous, the default); every target is quantised to it
        inside the limits, as on a stepper drive.
    """

    scheme = "sim"

    def __init__(
        self,
        *,
        limits: Any = (-5000.0, 5000.0),
        backlash_um: float = 0.0,
        mechanical_backlash_um: float = 0.0,
        speed_um_s: float = 1000.0,
        accel_um_s2: float = 20000.0,
        settle_s: float = 0.0,
        start_um: float = 0.0,
        clock: Any = None,
        approach: str = "up",
        resolution_um: float = 0.0,
    ) -> None:
        super().__init__(
            limits=limits,
            backlash_um=backlash_um,
            approach=approach,
            settle_s=settle_s,
            clock=clock,
            clock_default="virtual",
            resolution_um=resolution_um,
        )
        self._speed = _finite(speed_um_s, "speed_um_s")
        if self._speed <= 0:
            raise InputError(f"speed_um_s {speed_um_s!r} must be positive: give a speed in um/s, e.g. 1000")
        accel = float(accel_um_s2) if accel_um_s2 == math.inf else _finite(accel_um_s2, "accel_um_s2")
        if accel <= 0:
            raise InputError(f"accel_um_s2 {accel_um_s2!r} must be positive: give um/s^2, e.g. 20000")
        self._accel = accel
        self._play = _finite(mechanical_backlash_um, "mechanical_backlash_um")
        if self._play < 0:
            raise InputError(
                f"mechanical_backlash_um {mechanical_backlash_um!r} is negative: give 0 or more um"
            )
        start = _finite(start_um, "start_um")
        if not self.limits.contains(start):
            raise InputError(
                f"start_um {start:g} is outside the limits [{self.limits.lo:g}, {self.limits.hi:g}] um"
            )
        self._state_lock = threading.Lock()
        now = self._now()
        self._profile = Profile(now, start, start, self._speed, self._accel)
        self._history: list[Profile] = [self._profile]
        self._mech = start
        self._fault: str | None = None
        self._connected = True
        #: Every absolute target (um) the simulated controller was asked to move to.
        self.commands: list[float] = []
        self._record(now, start)

    # ------------------------------------------------------------------ model
    @property
    def moving(self) -> bool:
        """True while a move is in progress."""
        return self._now() < self._profile.t1

    @property
    def mechanical_backlash_um(self) -> float:
        """The width (um) of the modelled dead band between motor and optics (0 = none)."""
        return self._play

    @property
    def mechanical_position(self) -> float:
        """The modelled optics position in um (motor position through the backlash dead band)."""
        with self._state_lock:
            return self._mech_at(self._profile, self._mech, self._now())

    def _mech_at(self, prof: Profile, mech0: float, t: float) -> float:
        p = prof.at(t)
        half = self._play / 2
        if prof.z1 > prof.z0:
            return max(mech0, p - half)
        if prof.z1 < prof.z0:
            return min(mech0, p + half)
        return mech0

    def position_at(self, t: float) -> float:
        """The exact motor position in um at clock time ``t`` (s), from the motion model."""
        t = float(t)
        hist = list(self._history)
        if t < hist[0].t0:
            raise InputError(f"time {t:.6f} s is before the drive existed ({hist[0].t0:.6f} s)")
        for prof in reversed(hist):
            if t >= prof.t0:
                return prof.at(t)
        return hist[0].z0  # pragma: no cover - unreachable

    def inject_fault(self, kind: str) -> None:
        """Make the next move fail: ``"timeout"`` (stalls half-way, no reply) or ``"disconnect"``."""
        if kind not in FAULTS:
            raise InputError(f"fault {kind!r} is not known: give one of {', '.join(FAULTS)}")
        self._fault = kind

    def _start(self, target: float) -> Profile:
        with self._state_lock:
            now = self._now()
            self._mech = self._mech_at(self._profile, self._mech, now)
            prof = Profile(now, self._profile.at(now), target, self._speed, self._accel)
            self._profile = prof
            self._history.append(prof)
            return prof

    def _halt(self) -> None:
        with self._state_lock:
            now = self._now()
            self._mech = self._mech_at(self._profile, self._mech, now)
            z = self._profile.at(now)
            self._profile = Profile(now, z, z, self._speed, self._accel)
            self._history.append(self._profile)

    # ------------------------------------------------------------------ hooks
    def _move_to(self, z_um: float) -> None:
        if not self._connected:
            raise DeviceError("the simulated drive is disconnected: resync it")
        self.commands.append(z_um)
        prof = self._start(z_um)
        fault, self._fault = self._fault, None
        total = prof.duration
        step = 0.01 if not getattr(self.clock, "virtual", False) else max(0.01, total / 50)
        while True:
            now = self._now()
            if fault and now >= prof.t0 + total / 2:
                self._halt()
                if fault == "disconnect":
                    self._connected = False
                    raise DeviceError("the simulated drive disconnected mid-move: reconnect, then resync")
                raise DeviceTimeout("the simulated drive did not report the end of the move in time")
            if self._stop_event.is_set():
                self._halt()
                return
            if now >= prof.t1:
                break
            self.clock.sleep(min(step, prof.t1 - now))
            self._record(self._now(), prof.at(self._now()))

    def _read_position(self) -> float:
        if not self._connected:
            raise DeviceError("the simulated drive is disconnected: resync it")
        return self._profile.at(self._now())

    def _stop(self) -> None:
        # the move loop sees the stop event and halts the profile; nothing else to do here
        return

    def _close(self) -> None:
        if self.moving:
            self._halt()

    def _resync(self) -> float:
        self._connected = True
        return self._read_position()
