"""A GRBL 1.1 emulator on the master side of a real pseudo-terminal, written from GRBL's
published interface docs (line protocol, realtime bytes, status reports, jogging, alarms).

The driver under test opens :attr:`GrblEmulator.port` (the slave path) with pyserial. The
emulator runs on a thread and models what real boards do:

- the board resets when it starts: its banner is sent before anyone listens (and is lost), and
  it drops the first ``lose_bytes`` bytes it receives (a bootloader eating them);
- ``ok`` as soon as a line is parsed -- *before* the motion ends (and, with
  :attr:`start_delay`, before it even starts: ``?`` still says ``Idle`` at the old position);
  motion at the commanded feed (constant speed, quantised to ``steps_per_mm`` with C's
  ``lround``, halves away from zero); ``?`` reports ``<Jog|MPos:...>`` mid-move;
- the parser keeps the commanded position unrounded (GRBL's ``gc_state.position``): a ``G91``
  jog adds to it, not to the step position; a jog cancel, an alarm or a reset re-syncs it to
  the step position (GRBL's ``gc_sync_position``);
- jogs ``$J=`` (G90/G91/G53, G21, F required: ``error:22`` without it), G-code is locked
  during jogs and alarms (``error:9``), ``G4`` answers ``ok`` only once motion has finished,
  ``$X`` unlock, ``$H`` (``error:5``: homing disabled), ``$$`` settings, ``$I`` build info;
- realtime ``?``, ``!`` (hold), ``~`` (resume), 0x85 (jog cancel: stop, keep position, Idle),
  0x18 (soft reset: during motion -> ``ALARM:3`` and Alarm state);
- a mechanical backlash dead band: :attr:`mechanical_mm` lags the motor on reversal.

Options that model real boards: ``decel_mm_s2`` (a jog cancel decelerates: the motor comes to
rest that much later, state ``Jog`` until then, as GRBL does; 0 = stops at once),
:attr:`junk_before_banner` (bytes printed before the banner on every reset).

Faults the tests inject: :attr:`silent` (replies never come), :meth:`garbage`,
:attr:`wild_report` (the next mid-move report says Z = that many mm), :attr:`z_text` (every
report shows that text as Z, e.g. ``"nan"``),
:attr:`refuse_next` (``error:N`` for the next line), :meth:`soft_reset`,
:attr:`fragment` (replies dribble out in pieces: partial lines), :attr:`reset_mid_move` (the
board reboots half-way, position lost), :attr:`alarm_mid_move` (``ALARM:N`` half-way),
:meth:`vanish` (the port disappears: the master fd is closed).

Every line received is logged in :attr:`received`; every motion target (um, absolute machine
Z, unrounded as the parser keeps it) in :attr:`targets_um`, and those of ``G91`` jogs also in
:attr:`relative_targets_um`.
"""

from __future__ import annotations

import math
import re
import time

from .pty_board import PtyBoard, backlash

BANNER = "Grbl 1.1h ['$' for help]"
REALTIME = {ord("?"), ord("!"), ord("~"), 0x18, 0x85}


class GrblEmulator(PtyBoard):
    """A GRBL 1.1 board behind a pseudo-terminal; positions in mm like GRBL."""

    def __init__(
        self,
        *,
        steps_per_mm: float = 1000.0,
        mech_backlash_um: float = 0.0,
        time_scale: float = 1.0,
        lose_bytes: int = 1,
        start_mm: float = 0.0,
        wpos_reports: bool = False,
        wco_mm: float = 0.0,
        boot_alarm: bool = False,
        decel_mm_s2: float = 0.0,
        junk_before_banner: bytes = b"",
    ) -> None:
        super().__init__("grbl-emulator", lose_bytes)
        self.steps_per_mm = steps_per_mm
        self.play_mm = mech_backlash_um / 1000.0
        self.time_scale = time_scale
        self.wpos_reports = wpos_reports
        self.wco_mm = wco_mm
        self.realtime: list[int] = []
        self.targets_um: list[float] = []
        self.relative_targets_um: list[float] = []  # where each G91 jog put the parser's target
        self.reset_mid_move = False
        self.alarm_mid_move: int | None = None
        self.refuse_next: int | None = None
        self.start_delay = 0.0  # s between a move's ok and its start (status still says Idle)
        self.decel_mm_s2 = decel_mm_s2
        self.junk_before_banner = junk_before_banner
        self.wild_report: float | None = None
        self.z_text: str | None = None
        self.steps_setting: str | None = None  # what $$ says for $102 (default: steps_per_mm)
        self.build_info = "[VER:1.1h.20190825:]"  # the first line $I answers
        self._not_before = 0.0
        self._z = start_mm  # motor position, mm
        self._gc = start_mm  # the parser's commanded position, mm, unrounded
        self._mech = start_mm
        self._state = "Alarm" if boot_alarm else "Idle"
        self._motion: tuple[float, float, float, float] | None = None  # t0, z0, z1, speed mm/s
        self._queue: list[tuple[float, float, str]] = []  # z1, speed, kind
        self._pending_dwell: list[float] = []
        self._hold = False
        self._reports = 0
        self._write(f"\r\n{BANNER}\r\n")  # sent at power-up: nobody listens yet, it is lost
        self._start()

    # ------------------------------------------------------------------ test API
    @property
    def z_mm(self) -> float:
        """Motor position in mm (quantised to steps)."""
        with self._lock:
            return self._quant(self._pos_now())

    @property
    def z_um(self) -> float:
        return self.z_mm * 1000.0

    @property
    def mechanical_um(self) -> float:
        """The optics position in um (motor through the backlash dead band)."""
        with self._lock:
            self._advance()
            return self._mech * 1000.0

    @property
    def state(self) -> str:
        with self._lock:
            self._advance()
            return self._state

    @property
    def moving(self) -> bool:
        with self._lock:
            self._advance()
            return self._motion is not None or bool(self._queue)

    def alarm(self, code: int) -> None:
        """Raise ``ALARM:code`` now (e.g. 1 = hard limit): motion stops, state Alarm."""
        with self._lock:
            self._halt()
            self._state = "Alarm"
            self._reply(f"ALARM:{code}")

    def command(self, line: str) -> None:
        """Run ``line`` as if another program had sent it before the driver opened the port
        (its reply is left on the line, unread)."""
        with self._lock:
            self._line(line)

    def soft_reset(self) -> None:
        """A soft reset (0x18) from elsewhere (another program, the reset button)."""
        with self._lock:
            self._realtime(0x18)

    # ------------------------------------------------------------------ plumbing
    def _tick(self) -> None:
        self._advance()
        self._check_dwell()

    def _byte(self, b: int) -> None:
        if b in REALTIME:  # realtime bytes act at once, even in the middle of a line
            self.realtime.append(b)
            self._realtime(b)
            return
        super()._byte(b)

    # ------------------------------------------------------------------ motion model
    def _quant(self, z: float) -> float:
        steps = z * self.steps_per_mm
        return math.copysign(math.floor(abs(steps) + 0.5), steps) / self.steps_per_mm  # lround

    def _pos_now(self) -> float:
        if self._motion is None:
            return self._z
        t0, z0, z1, v = self._motion
        d = abs(z1 - z0)
        s = v * (time.monotonic() - t0)
        if s >= d:
            return z1
        return z0 + (s if z1 >= z0 else -s)

    def _advance(self) -> None:
        if self._hold:
            return
        while True:
            if self._motion is None:
                if not self._queue:
                    if self._state in ("Jog", "Run"):
                        self._state = "Idle"
                    return
                if time.monotonic() < self._not_before:
                    return  # planned but not started: reports still say Idle
                z1, v, kind = self._queue.pop(0)
                self._motion = (time.monotonic(), self._z, z1, v)
                self._state = kind
            _t0, z0, z1, v = self._motion
            z = self._pos_now()
            self._mech = backlash(self._mech, z, z1 - z0, self.play_mm)
            half_done = abs(z - z0) >= abs(z1 - z0) / 2 and z1 != z0
            if half_done and self.reset_mid_move:
                self.reset_mid_move = False
                self._motion = None
                self._queue.clear()
                self._z = self._gc = 0.0  # rebooted: GRBL starts at 0, the old position is lost
                self._state = "Idle"
                self._pending_dwell.clear()
                self._reply(BANNER)
                return
            if half_done and self.alarm_mid_move is not None:
                code, self.alarm_mid_move = self.alarm_mid_move, None
                self._halt()
                self._state = "Alarm"
                self._reply(f"ALARM:{code}")
                return
            if z == z1:
                self._z = self._quant(z1)
                self._motion = None
                continue
            return

    def _halt(self) -> None:
        z = self._quant(self._pos_now())
        if self._motion is not None:
            self._mech = backlash(self._mech, z, self._motion[2] - self._motion[1], self.play_mm)
        self._z = self._gc = z
        self._motion = None
        self._queue.clear()
        self._hold = False

    def _decelerate(self) -> None:
        """Jog cancel at speed: come to rest v^2/2a further on (never past the jog's target),
        at the mean speed of the ramp, still in state Jog."""
        _t0, z0, z1, v = self._motion
        z = self._pos_now()
        direction = 1.0 if z1 >= z0 else -1.0
        rest = z + direction * min(v * v / (2 * self.decel_mm_s2), abs(z1 - z))
        self._queue.clear()
        self._z = z
        self._gc = self._quant(rest)
        self._motion = (time.monotonic(), z, rest, v / 2)

    def _check_dwell(self) -> None:
        if self._pending_dwell and self._motion is None and not self._queue:
            self._pending_dwell.pop(0)
            self._reply("ok")

    # ------------------------------------------------------------------ realtime commands
    def _realtime(self, b: int) -> None:
        if b == ord("?"):
            self._advance()
            self._reply(self._status())
        elif b == ord("!"):
            if self._motion is not None:
                _t0, z0, z1, v = self._motion
                z = self._pos_now()
                self._mech = backlash(self._mech, z, z1 - z0, self.play_mm)
                self._queue.insert(0, (z1, v, self._state))
                self._z = z
                self._motion = None
                self._hold = True
                self._state = "Hold"
        elif b == ord("~"):
            if self._hold:
                self._hold = False
        elif b == 0x85:
            if self._state == "Jog" and self._motion is not None and self.decel_mm_s2 > 0:
                self._decelerate()
            elif self._state == "Jog" or (self._hold and self._queue and self._queue[0][2] == "Jog"):
                self._halt()
                self._state = "Idle"
        elif b == 0x18:
            moving = self._motion is not None or bool(self._queue) or self._hold
            self._halt()
            self._pending_dwell.clear()
            self._buf.clear()
            if moving:
                self._state = "Alarm"
                self._reply("ALARM:3")
            self._reply("")
            if self.junk_before_banner:
                self._write(self.junk_before_banner)
            self._reply(BANNER)
            if self._state == "Alarm":
                self._reply("[MSG:'$H'|'$X' to unlock]")

    def _status(self) -> str:
        z = self._quant(self._pos_now())
        ztext = f"{z:.3f}" if self.z_text is None else self.z_text
        if self.wild_report is not None and self._motion is not None:
            ztext, self.wild_report = f"{self.wild_report:.3f}", None
        state = "Hold:0" if self._state == "Hold" else self._state
        v = 0.0 if self._motion is None else self._motion[3] * 60 * self.time_scale
        self._reports += 1
        if self.wpos_reports:
            wco = f"|WCO:0.000,0.000,{self.wco_mm:.3f}" if self._reports % 10 == 1 else ""
            wz = f"{z - self.wco_mm:.3f}" if self.z_text is None else self.z_text
            return f"<{state}|WPos:0.000,0.000,{wz}|FS:{v:.0f},0{wco}>"
        return f"<{state}|MPos:0.000,0.000,{ztext}|FS:{v:.0f},0>"

    # ------------------------------------------------------------------ line commands
    def _line(self, line: str) -> None:
        up = line.upper().replace(" ", "")
        if self.refuse_next is not None:
            code, self.refuse_next = self.refuse_next, None
            self._reply(f"error:{code}")
            return
        if up == "$X":
            if self._state == "Alarm":
                self._state = "Idle"
                self._reply("[MSG:Caution: Unlocked]")
            self._reply("ok")
        elif up == "$H":
            self._reply("error:5")
        elif up == "$$":
            z_steps = self.steps_per_mm if self.steps_setting is None else self.steps_setting
            for key, value in (("$10", "1"), ("$22", "0"), ("$100", "250.000"), ("$102", z_steps)):
                self._reply(f"{key}={value}")
            self._reply("ok")
        elif up == "$I":
            self._reply(self.build_info)
            self._reply("[OPT:V,15,128]")
            self._reply("ok")
        elif up.startswith("$J="):
            self._jog(up[3:])
        elif up.startswith("$"):
            self._reply("error:3")
        elif self._state in ("Alarm", "Jog"):
            self._reply("error:9")
        elif up.startswith("G4"):
            self._pending_dwell.append(time.monotonic())
        elif re.match(r"^(G9[01])?(G21)?G[01]", up):
            self._gcode_move(up)
        else:
            self._reply("error:20")

    def _words(self, text: str) -> dict[str, list[str]]:
        words: dict[str, list[str]] = {}
        for letter, value in re.findall(r"([A-Z])([-+]?[0-9.]*)", text):
            words.setdefault(letter, []).append(value)
        return words

    def _jog(self, body: str) -> None:
        if self._state not in ("Idle", "Jog"):
            self._reply("error:9")
            return
        w = self._words(body)
        if "F" not in w:
            self._reply("error:22")
            return
        if "Z" not in w:
            self._reply("error:26")
            return
        try:
            z = float(w["Z"][0])
            feed = float(w["F"][0])
        except ValueError:
            self._reply("error:2")
            return
        gs = w.get("G", [])
        if "91" in gs:
            target = self._gc + z
            self.relative_targets_um.append(target * 1000.0)
        elif "53" in gs:
            target = z
        else:
            target = z + self.wco_mm
        self._gc = target
        self.targets_um.append(target * 1000.0)
        if self._motion is None and not self._queue:
            self._not_before = time.monotonic() + self.start_delay
        self._queue.append((target, feed / 60.0 * self.time_scale, "Jog"))
        self._reply("ok")

    def _gcode_move(self, up: str) -> None:
        w = self._words(up)
        if "Z" not in w or "F" not in w:
            self._reply("error:22" if "F" not in w else "error:26")
            return
        target = float(w["Z"][0]) + self.wco_mm
        if "91" in w.get("G", []):
            target = self._gc + float(w["Z"][0])
        self._gc = target
        self.targets_um.append(target * 1000.0)
        self._queue.append((target, float(w["F"][0]) / 60.0 * self.time_scale, "Run"))
        self._reply("ok")
