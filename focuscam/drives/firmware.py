"""``FirmwareDrive`` (spec ``focuscam:PORT``): focuscam's own motor firmware over its protocol.

The protocol is specified in ``firmware_bridge/PROTOCOL.md``; the pure encode/decode lives in
:mod:`focuscam.drives._fwproto`, the numbered exchange in :mod:`focuscam.drives._fw_link` and
the wait for a motion's end in :mod:`focuscam.drives._fw_motion` (what the drive has).
Positions are um here and motor steps on the wire (``steps_per_um``). What this driver adds to
the :class:`~focuscam.drives.base.FocusDrive` template:

- every command carries a sequence number and a CRC-8; a reply that arrives corrupted, an
  ``err`` saying the command arrived corrupted, or a reply that never comes makes it resend the
  *same* line (the firmware answers a repeated sequence number again without executing it
  twice), at most ``retries`` times; then :class:`~focuscam.errors.DeviceTimeout` and the
  position is unknown;
- moves wait for the ``!done`` event, polling ``STATUS`` when events stop coming (an event can
  be lost too);
- the firmware checks its own copy of the soft limits (sent at open): defence in depth;
- a boot banner seen mid-session means the board reset: the position becomes unknown and the
  call raises :class:`~focuscam.errors.PositionUnknownError`; so does a ``resync()`` that finds
  the session mark gone (a reset whose banner was lost). Only ``home()`` or
  :meth:`FirmwareDrive.declare_position` make the position known after a reset;
- ``resync()``, ``home()`` and ``declare_position()`` handshake again, and reopen the port first
  when it died (a board unplugged and plugged back under the same name);
- ``stop()`` writes the realtime byte 0x18 from any thread, without waiting for a move;
- the firmware keeps the commanded target (firmware 1.1: ``MOVE <steps> <aim>``, the sub-step
  remainder in 1/1000 steps, reported by ``STATUS`` as ``aim=``): a drive opened later (another
  ``focuscam move`` process) starts its relative moves from that target, so ``--by -30`` twice
  at 4 um per step ends at -60 um, not -64 (:attr:`keeps_target`). Firmware 1.0 has no aim:
  then a new open starts from the step position read back.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from ..errors import DeviceError, InputError, LimitError, PositionUnknownError
from ..types import ZLimits
from . import _fwproto as fp
from ._fw_link import FirmwareLink, Session
from ._fw_motion import STATUS_EVERY_S, MotionWatch  # noqa: F401 (STATUS_EVERY_S: importable here)
from ._serial import SerialLine
from .base import FocusDrive, grid_span

__all__ = ["FirmwareDrive"]

#: Largest sub-step remainder (1/1000 steps) ``MOVE <steps> <aim>`` takes (firmware 1.1).
AIM_MAX = 999

_HINTS = {
    3: "the firmware does not know this command: flash the firmware of this focuscam version",
    4: "a bad argument reached the firmware: report this as a focuscam bug",
    6: "the motor is busy: wait for the move to end or stop it",
    7: "the firmware is in its fault state (limit switch or homing): call resync() or home()",
    8: "the driver is disabled: call resync() to enable it",
    9: "a limit switch is pressed in that direction: move the other way or home()",
    11: "homing found no limit switch: check the switch wiring",
}


def _positive(value: Any, name: str, unit: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InputError(f"{name} {value!r} is not a positive number: give it in {unit}")
    return float(value)


def _rate_steps(value: Any, name: str, unit: str, lo: int, hi: int, spu: float) -> int | None:
    """A speed or acceleration (``unit``, None: the firmware's own) in steps, checked ``lo..hi``."""
    if value is None:
        return None
    v = _positive(value, name, unit)
    steps = round(v * spu)
    if not lo <= steps <= hi:
        raise InputError(
            f"{name} {v:g} {unit} is {steps} steps at steps_per_um={spu:g}; the firmware "
            f"takes {lo}..{hi}: choose {name} between {lo / spu:g} and {hi / spu:g}"
        )
    return steps


def _limit_steps(limits: ZLimits, res_um: float, spu: float) -> tuple[int, int]:
    """The firmware's copy of the soft limits: whole steps INSIDE the host's (rounded inwards)."""
    lo, hi = limits.lo, limits.hi
    steps = grid_span(lo, hi, res_um)
    if steps[0] > steps[1]:
        raise LimitError(
            f"no whole motor step lies inside the soft limits [{lo:g}, {hi:g}] um at "
            f"steps_per_um={spu:g}: widen the limits to at least one step"
        )
    for v in steps:
        if not -(2**31) <= v < 2**31:
            raise InputError(
                f"limits [{lo:g}, {hi:g}] um are {steps} steps, beyond the firmware's "
                f"32-bit step counter: narrow the limits or lower steps_per_um"
            )
    return steps


def _refused(
    what: str,
    command: str,
    args: tuple[int, ...],
    reply: fp.Reply,
    limits: ZLimits,
    lim_steps: tuple[int, int],
) -> DeviceError:
    """The error for the firmware's ``err`` reply to ``command args`` (steps)."""
    said = f"{command}{''.join(f' {a}' for a in args)}"
    if reply.code == 5:
        lo, hi = lim_steps
        return LimitError(
            f"{what} refused {said} (steps): outside its own soft limits; the host "
            f"limits are [{limits.lo:g}, {limits.hi:g}] um = [{lo}, {hi}] steps: "
            f"choose a target inside them, or resync() to resend the limits"
        )
    hint = _HINTS.get(reply.code, "see firmware_bridge/PROTOCOL.md")
    return DeviceError(f"{what} refused {said}: error {reply.code} {reply.name} ({reply.text}); {hint}")


class FirmwareDrive(FocusDrive):
    """focuscam's motor firmware (Arduino Uno/Nano + step/dir driver) on a serial port; um.

    Parameters
    ----------
    port : str
        Anything ``serial.serial_for_url`` accepts: ``/dev/ttyUSB0``, ``/dev/pts/3``, ...
    limits : ZLimits or (float, float) or str
        Soft limits in um; also sent to the firmware (rounded inwards to whole steps), which
        refuses moves outside them on its own.
    steps_per_um : float
        Motor (micro)steps per um of focus travel (default 1).
    speed_um_s, accel_um_s2 : float, optional
        Cruise speed (um/s) and acceleration (um/s^2); converted to steps/s (10..5000) and
        steps/s^2 (50..100000). Default: the firmware's own (800 steps/s, 4000 steps/s^2).
    backlash_um, approach, settle_s
        As for every :class:`~focuscam.drives.base.FocusDrive` (um, "up"/"down", s).
    timeout_s : float
        Seconds to wait for one reply before resending (default 1).
    retries : int
        Resends of one command after a timeout or corruption before giving up (default 3).
    boot_wait_s : float
        Seconds to keep asking ``ID`` at open while a board resets (default 3).
    home_timeout_s : float
        Seconds homing may take (default 120).
    """

    scheme = "focuscam"

    def __init__(
        self,
        port: str,
        *,
        limits: Any,
        steps_per_um: float = 1.0,
        speed_um_s: float | None = None,
        accel_um_s2: float | None = None,
        backlash_um: float = 0.0,
        approach: str = "up",
        settle_s: float = 0.0,
        timeout_s: float = 1.0,
        retries: int = 3,
        boot_wait_s: float = 3.0,
        home_timeout_s: float = 120.0,
    ) -> None:
        super().__init__(limits=limits, backlash_um=backlash_um, approach=approach, settle_s=settle_s)
        self._spu = _positive(steps_per_um, "steps_per_um", "steps per um")
        self._timeout = _positive(timeout_s, "timeout_s", "seconds")
        self._boot_wait = _positive(boot_wait_s, "boot_wait_s", "seconds")
        self._home_timeout = _positive(home_timeout_s, "home_timeout_s", "seconds")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InputError(f"retries {retries!r} is not a whole number >= 0: give e.g. retries=3")
        self._retries = retries
        self._speed_steps = _rate_steps(speed_um_s, "speed_um_s", "um/s", 10, 5000, self._spu)
        self._accel_steps = _rate_steps(accel_um_s2, "accel_um_s2", "um/s^2", 50, 100000, self._spu)
        self._set_resolution(1.0 / self._spu)  # one motor step
        self._lim_steps = _limit_steps(self.limits, self.resolution_um, self._spu)
        self.port = port
        self._mark = random.randint(1, fp.MAX_SEQ)
        self._link = FirmwareLink(
            port,
            what=self._what(),
            timeout_s=self._timeout,
            retries=retries,
            on_boot=self._on_boot,
            refuse=self._refusal,
            session=Session(self._lim_steps, self._speed_steps, self._accel_steps),
        )
        self._io = self._link.io
        self._events = self._link.events
        self._watch = MotionWatch(
            self._link,
            steps_per_um=self._spu,
            record=lambda steps: self._record(self._now(), steps / self._spu),
            stop=self._stop_event,
        )
        try:
            with self._io:
                self._link.handshake(deadline=time.monotonic() + self._boot_wait)
                self._transact("MARK", self._mark)
                st = self._checked_status()
                z = self._int_field(st, "pos") / self._spu
        except BaseException:
            self._line.close()
            raise
        self._set_known(z)
        self._intended = self._kept_target(st)

    def _kept_target(self, st: dict[str, str]) -> float | None:
        """The commanded target (um) the firmware kept from an earlier open, or None.

        Trusted only at rest on that target: a stop, a limit switch, homing, ZERO or a reset
        clear the aim in the firmware, and a move still running has not reached its target.
        """
        self.keeps_target = "aim" in st  # firmware 1.1 and later
        if not self.keeps_target or st.get("state") != "idle":
            return None
        pos, target, aim = (self._int_field(st, k) for k in ("pos", "target", "aim"))
        if pos != target or aim == 0 or abs(aim) > AIM_MAX:
            return None
        return (target + aim / 1000.0) / self._spu

    @property
    def steps_per_um(self) -> float:
        """Motor steps per um."""
        return self._spu

    # ------------------------------------------------------------------ protocol plumbing
    def _what(self) -> str:
        return f"the focuscam motor on {self.port}"

    def _on_boot(self) -> None:
        self._mark_unknown("the board reset (boot banner seen mid-session)")
        raise PositionUnknownError(
            f"{self._what()} reset (boot banner seen mid-session): its position is unknown; "
            f"call home() (or declare_position() if you know where it is)"
        )

    def _transact(self, command: str, *args: int, timeout: float | None = None) -> fp.Reply:
        return self._link.transact(command, *args, timeout=timeout)

    @property
    def _line(self) -> SerialLine:
        return self._link.line

    @property
    def info(self) -> dict[str, str]:
        """Identification fields from ``ID`` (name, version, proto, build, target)."""
        return self._link.info

    @property
    def resends(self) -> int:
        """Count of resends (corruption or timeouts) since open, for logs and tests."""
        return self._link.resends

    def _refusal(self, command: str, args: tuple[int, ...], reply: fp.Reply) -> DeviceError:
        return _refused(self._what(), command, args, reply, self.limits, self._lim_steps)

    def _fields(self, reply: fp.Reply, *keys: str) -> dict[str, int]:
        return self._link.fields(reply, *keys)

    def _int_field(self, fields: dict[str, str], key: str) -> int:
        return self._link.int_field(fields, key)

    def _relink(self) -> None:
        self._link.relink(self._boot_wait)

    def _status(self) -> dict[str, str]:
        return self._transact("STATUS").fields

    # ------------------------------------------------------------------ hooks
    def _checked_status(self) -> dict[str, str]:
        """STATUS, after checking the session mark: a reset whose banner was lost shows here."""
        st = self._status()
        if st.get("mark") != str(self._mark):
            self._mark_unknown("the board reset (its session mark is gone)")
            raise PositionUnknownError(
                f"{self._what()} has reset since it was opened (its step counter restarted at 0): "
                f"its position is unknown; call home() (or declare_position() if you know it)"
            )
        return st

    def _read_position(self) -> float:
        with self._io:
            pos = self._int_field(self._checked_status(), "pos")
        return pos / self._spu

    def _move_to(self, z_um: float) -> None:
        steps = round(z_um * self._spu)
        with self._io:
            self._events.clear()
            if self._stop_event.is_set():
                return
            start = self._int_field(self._checked_status(), "pos")
            aim = self._aim(steps)
            move = ("MOVE", steps, aim) if aim else ("MOVE", steps)
            target = self._fields(self._transact(*move), "target")["target"]
            if self._stop_event.is_set():  # stop() raced with the MOVE line: stop again
                self._line.write_realtime(fp.RT_STOP)
            self._watch.wait(start, target, "move", self._watch.deadline(abs(target - start)))

    def _aim(self, steps: int) -> int:
        """The final target's remainder off ``steps`` in 1/1000 steps (0: none or not kept)."""
        if not self.keeps_target or self._aim_um is None:
            return 0
        aim = round((self._aim_um * self._spu - steps) * 1000.0)
        return aim if abs(aim) <= AIM_MAX else 0

    def _stop(self) -> None:
        self._line.write_realtime(fp.RT_STOP)

    def _wait_stopped(self) -> None:
        """Poll STATUS until the motor is no longer moving or homing (bounded)."""
        with self._io:
            self._watch.wait_rest(self._checked_status)

    def _close(self) -> None:
        self._line.close()

    def _home(self) -> float:
        try:
            return self._home_once()
        except DeviceError as exc:  # the motor may have moved: do not trust the old position
            self._mark_unknown(f"homing failed: {exc}")
            raise

    def _home_once(self) -> float:
        with self._io:
            self._relink()
            self._transact("CLR")
            start = self._fields(self._transact("POS"), "pos")["pos"]
            self._transact("HOME")
            self._watch.wait(start, 0, "home", time.monotonic() + self._home_timeout)
            self._transact("MARK", self._mark)
            return self._read_position()

    def _resync(self) -> float:
        with self._io:
            self._relink()
            st = self._checked_status()
            if st.get("state") == "fault":
                self._transact("CLR")
            return self._read_position()

    # ------------------------------------------------------------------ extras
    def declare_position(self, z_um: float) -> float:
        """Declare that the axis is at ``z_um`` (um) now, e.g. after a reset; return it.

        Use only when you know where the optics are (a mark, a gauge): the firmware's step
        counter is set to match, and moves are allowed again.
        """
        if isinstance(z_um, bool) or not isinstance(z_um, int | float) or not math.isfinite(z_um):
            raise InputError(f"z_um {z_um!r} is not a finite number: give the position in um")
        with self._move_lock:
            self._check_open()
            if not self.limits.contains(float(z_um)):
                raise LimitError(
                    f"declared position {z_um:g} um is outside the soft limits "
                    f"[{self.limits.lo:g}, {self.limits.hi:g}] um: move the optics inside them first"
                )
            with self._io:
                self._relink()
                self._transact("CLR")
                self._transact("ZERO", round(z_um * self._spu))
                self._transact("MARK", self._mark)
                z = self._read_position()
            self._set_known(z)
            return z
