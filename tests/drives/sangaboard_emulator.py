"""A Sangaboard emulator on the master side of a real pseudo-terminal, written from the
Sangaboard serial protocol (see ../shared/notes/anchors.md).

Text lines in, text lines out (``\\r\\n``): ``version`` -> ``Sangaboard Firmware v...``,
``p?`` -> ``x y z``, ``mrz N`` / ``mr dx dy dz`` relative moves at ``steps_per_s``,
``blocking_moves true|false``, ``moving?``, ``stop`` -> ``Move aborted``, ``zero``, ``release``.

Two reply styles. ``style="1.0"`` follows the refactored Sangaboard firmware (v1.0, 2021; its
stage module was read): commands are matched by prefix (``p?`` is ``p``, ``moving?`` is
``moving``) and handled between steps, also during a blocking move; a blocking move answers
``stopped`` when it ends, a non-blocking one ``done.`` at once; ``moving`` -> ``true``/``false``;
``stop`` -> ``Move aborted`` whether or not anything moved (and an aborted blocking move never
says ``stopped``); ``blocking_moves`` -> ``done.``; ``release`` -> ``done``; unknown commands ->
``Type 'help' for a list of commands.``. ``style="0.5"`` models an older firmware whose wording
was not available to check: blocking moves answer ``done.``, the board reads nothing else until
a blocking move ends (except ``stop``), ``moving?`` -> ``1``/``0``, ``blocking_moves`` answers
nothing and ``stop`` answers only when something moved. The driver must cope with both.

``style="0.4"`` plays the OpenFlexure Arduino Nano firmware (``OpenFlexure Motor Board v0.4``;
facts observed on the real firmware in ../shared/notes/anchors.md): moves are always blocking
and answer ``done`` (no period) when they end; there is no ``stop``, ``moving?`` or
``blocking_moves`` (unknown commands answer ``Type 'help' for a list of commands.``); the board
reads nothing during a move, so lines sent meanwhile are handled after it; ``p?`` on a blank
EEPROM answers ``-1 -1 -1``. ``version_line`` overrides the version the board prints (to play
an unsupported firmware).

The board drops the first ``lose_bytes`` bytes it receives (booting after the port opened).
A mechanical backlash dead band: :attr:`mechanical_um` lags the motor on reversal.
Faults: :attr:`silent`, :meth:`garbage`, :attr:`fragment`, :attr:`reset_mid_move` (reboot
half-way: position back to 0, version printed), :meth:`vanish`.
Every line received is logged in :attr:`received`; every absolute target (um) in
:attr:`targets_um`; every ``stop`` answered in :attr:`stops`.
"""

from __future__ import annotations

import time

from .pty_board import PtyBoard, backlash


class SangaboardEmulator(PtyBoard):
    """A Sangaboard behind a pseudo-terminal; positions in steps like the board."""

    def __init__(
        self,
        *,
        style: str = "1.0",
        steps_per_um: float = 2.0,
        steps_per_s: float = 2000.0,
        mech_backlash_um: float = 0.0,
        lose_bytes: int = 3,
        version_line: str | None = None,
        start_steps: int | None = None,
    ) -> None:
        if style not in ("0.4", "0.5", "1.0"):
            raise ValueError(f"style {style!r}: give '0.4', '0.5' or '1.0'")
        super().__init__("sangaboard-emulator", lose_bytes)
        self.style = style
        self.steps_per_um = steps_per_um
        self.steps_per_s = steps_per_s
        self.play_steps = mech_backlash_um * steps_per_um
        self.targets_um: list[float] = []
        self.stops = 0
        self.reset_mid_move = False
        self._version = version_line
        self._deferred: list[str] = []  # v0.4: lines that arrived during a move
        if start_steps is None:
            start_steps = -1 if style == "0.4" else 0  # v0.4: a blank EEPROM
        self._z = start_steps  # steps
        self._mech = float(start_steps)
        self._motion: tuple[float, int, int] | None = None  # t0, z0, z1
        self._blocking = True
        self._reply_when_done = False
        self._start()

    @property
    def version_line(self) -> str:
        if self._version is not None:
            return self._version
        return {
            "0.4": "OpenFlexure Motor Board v0.4",
            "0.5": "Sangaboard Firmware v0.5.1",
            "1.0": "Sangaboard Firmware v1.0-beta",
        }[self.style]

    # ------------------------------------------------------------------ test API
    @property
    def z_steps(self) -> int:
        with self._lock:
            return self._pos_now()

    @property
    def z_um(self) -> float:
        return self.z_steps / self.steps_per_um

    @property
    def mechanical_um(self) -> float:
        with self._lock:
            self._advance()
            return self._mech / self.steps_per_um

    @property
    def moving(self) -> bool:
        with self._lock:
            self._advance()
            return self._motion is not None

    # ------------------------------------------------------------------ plumbing
    def _tick(self) -> None:
        self._advance()

    # ------------------------------------------------------------------ motion model
    def _pos_now(self) -> int:
        if self._motion is None:
            return self._z
        t0, z0, z1 = self._motion
        s = int(self.steps_per_s * (time.monotonic() - t0))
        if s >= abs(z1 - z0):
            return z1
        return z0 + (s if z1 > z0 else -s)

    def _advance(self) -> None:
        if self._motion is None:
            return
        _t0, z0, z1 = self._motion
        z = self._pos_now()
        self._mech = backlash(self._mech, z, z1 - z0, self.play_steps)
        if self.reset_mid_move and abs(z - z0) >= abs(z1 - z0) / 2:
            self.reset_mid_move = False
            self._motion = None
            self._z = 0
            self._blocking = True
            self._reply_when_done = False
            self._reply(self.version_line)  # the firmware prints its banner when it boots
            return
        if z == z1:
            self._z = z1
            self._motion = None
            if self._reply_when_done:
                self._reply_when_done = False
                self._reply({"0.4": "done", "0.5": "done.", "1.0": "stopped"}[self.style])
            while self._deferred and self._motion is None:
                self._line(self._deferred.pop(0))

    def _halt(self) -> None:
        if self._motion is not None:
            z = self._pos_now()
            self._mech = backlash(self._mech, z, self._motion[2] - self._motion[1], self.play_steps)
            self._z = z
            self._motion = None

    # ------------------------------------------------------------------ commands
    def _line(self, line: str) -> None:
        words = line.split()
        cmd, args = words[0], words[1:]
        v1 = self.style == "1.0"
        if self.style == "0.4":
            self._line_v04(line, cmd, args)
            return
        if cmd == "stop":
            if self._motion is not None or v1:
                self._halt()
                self._reply_when_done = False
                self.stops += 1
                self._reply("Move aborted")
            return
        if self._motion is not None and self._blocking and not v1:
            return  # the older board executes nothing else until a blocking move ends
        if v1 and cmd.endswith("?") and cmd in ("p?", "moving?"):
            cmd = cmd[:-1]  # v1.0 matches command names by prefix: the "?" is ignored
        if cmd == "version":
            self._reply(self.version_line)
        elif cmd in ("p?", "p"):
            z = self._pos_now()
            self._reply(f"0 0 {z}")
        elif cmd in ("mrz", "mr") and args:
            try:
                dz = int(args[-1])
            except ValueError:
                self._reply(f"Error: bad argument {args[-1]!r}")
                return
            start = self._pos_now()
            self._halt()
            self.targets_um.append((start + dz) / self.steps_per_um)
            self._motion = (time.monotonic(), start, start + dz)
            if self._blocking:
                self._reply_when_done = True
            else:
                self._reply("done.")
        elif cmd in ("moving?", "moving"):
            self._advance()
            moving = self._motion is not None
            if v1:
                self._reply("true" if moving else "false")
            else:
                self._reply("1" if moving else "0")
        elif cmd == "blocking_moves" and args:
            self._blocking = args[0].lower() in ("true", "1")
            if v1:
                self._reply("done.")  # the v0.5 style says nothing (the driver must cope with both)
        elif cmd == "zero":
            self._z = 0
            self._mech = 0.0
            self._reply("position reset to 0 0 0")
        elif cmd == "release":
            self._reply("done" if v1 else "motors released")
        elif v1:
            self._reply("Type 'help' for a list of commands.")
        else:
            self._reply(f"Error: unknown command {line!r}")

    def _line_v04(self, line: str, cmd: str, args: list[str]) -> None:
        """The OpenFlexure Motor Board v0.4: blocking moves only, no stop, moving? or blocking_moves."""
        if self._motion is not None:
            self._deferred.append(line)  # the board reads its serial port only between moves
            return
        if cmd == "version":
            self._reply(self.version_line)
        elif cmd == "p?":
            self._reply(f"{self._z} {self._z} {self._z}")
        elif cmd in ("mrz", "mr") and args:
            try:
                dz = int(args[-1])
            except ValueError:
                self._reply("Type 'help' for a list of commands.")
                return
            self.targets_um.append((self._z + dz) / self.steps_per_um)
            self._motion = (time.monotonic(), self._z, self._z + dz)
            self._reply_when_done = True
        elif cmd == "zero":
            self._z = 0
            self._mech = 0.0
            self._reply("position reset to 0 0 0")
        else:
            self._reply("Type 'help' for a list of commands.")
