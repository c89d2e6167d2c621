"""The firmware as the tests meet it: the real builds on pseudo-terminals, and a pty proxy.

- :func:`build` runs ``make`` in ``firmware_bridge`` once per target (host, avr, runner) and
  returns the binaries; without the toolchain it skips with the apt command in the reason, or
  fails when ``FOCUSCAM_REQUIRE_TOOLCHAIN=1`` (CI).
- :class:`FirmwareProcess` launches the host build or the simavr runner, reads the pty path
  it prints, and asks its control socket for the simulated axis (physical and mechanical
  position in steps, moving or not).
- :class:`PtyProxy` sits between the drive and the firmware on a second real pty: it records
  the move commands that reach the firmware, and can mute, drop or corrupt lines in transit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import tty
from pathlib import Path

import pytest

from focuscam.drives import _fwproto as fp

REPO = Path(__file__).resolve().parents[2]
BRIDGE = REPO / "firmware_bridge"
BUILD = BRIDGE / "build"
REQUIRE = os.environ.get("FOCUSCAM_REQUIRE_TOOLCHAIN", "") == "1"

TARGETS = {
    "host": (["g++", "make"], "g++ make", [BUILD / "host" / "focuscam-motor-host"]),
    "avr": (["avr-g++", "make"], "gcc-avr avr-libc make", [BUILD / "avr" / "focuscam_motor.elf"]),
    "runner": (["cc", "make"], "simavr libsimavr-dev make", [BUILD / "avr" / "focuscam-motor-avr"]),
}
_built: dict[str, list[Path]] = {}
_build_lock = threading.Lock()


def _missing(msg: str):
    if REQUIRE:
        pytest.fail(f"{msg} (FOCUSCAM_REQUIRE_TOOLCHAIN=1: in CI a missing toolchain is a failure)")
    pytest.skip(msg)


def build(target: str) -> list[Path]:
    """Build ``target`` (host, avr, runner) with make once per session; return its outputs."""
    with _build_lock:
        if target in _built:
            return _built[target]
        tools, packages, outputs = TARGETS[target]
        absent = [t for t in tools if shutil.which(t) is None]
        if target == "runner" and not Path("/usr/include/simavr/sim_avr.h").exists():
            absent.append("libsimavr-dev headers")
        if absent:
            _missing(f"firmware toolchain missing ({', '.join(absent)}): sudo apt-get install {packages}")
        BUILD.mkdir(parents=True, exist_ok=True)
        with open(BUILD / ".make.lock", "w") as lock:  # other test runs may build at the same time
            fcntl.flock(lock, fcntl.LOCK_EX)
            res = subprocess.run(
                ["make", "-s", target], cwd=BRIDGE, capture_output=True, text=True, timeout=300
            )
        if res.returncode != 0:
            pytest.fail(f"make {target} failed in {BRIDGE}:\n{res.stdout}\n{res.stderr}")
        for out in outputs:
            assert out.is_file(), f"make {target} did not produce {out}"
        _built[target] = outputs
        return outputs


class FirmwareProcess:
    """The host build (``kind="host"``) or the AVR build under simavr (``kind="avr"``)."""

    def __init__(self, kind: str = "host", *args: str, backlash_steps: int = 0) -> None:
        self.kind = kind
        self._dir = tempfile.mkdtemp(prefix="fcfw")
        self.control = os.path.join(self._dir, "ctl")
        if kind == "host":
            (exe,) = build("host")
            argv = [str(exe)]
        elif kind == "avr":
            (elf,) = build("avr")
            (runner,) = build("runner")
            argv = [str(runner), str(elf), "--realtime"]
        else:
            raise ValueError(f"kind {kind!r} is not host or avr")
        argv += [*args, "--backlash", str(backlash_steps), "--control", self.control]
        self._log = open(os.path.join(self._dir, "stderr.log"), "w+b")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log)
        self.port = self._read_port(timeout=20.0)

    def _read_port(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("/dev/"):
                        return line.strip()
        self.close()
        pytest.fail(f"the {self.kind} firmware printed no pty path in {timeout} s: {buf!r} {self.stderr()}")

    def stderr(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def request(self, what: str) -> str:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5.0)
                    s.connect(self.control)
                    s.sendall(what.encode() + b"\n")
                    data = b""
                    while chunk := s.recv(256):
                        data += chunk
                return data.decode().strip()
            except (ConnectionRefusedError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def state(self) -> dict[str, int]:
        """``{"phys": steps, "mech": steps, "moving": 0/1, ...}`` of the simulated axis."""
        return {k: int(v) for k, v in (p.split("=") for p in self.request("state").split())}

    def reset(self) -> None:
        """Reboot the firmware (host build only): position counter 0, banner; the axis stays."""
        assert self.request("reset") == "ok"

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            self.proc.stdout.close()
            self._log.close()
            shutil.rmtree(self._dir, ignore_errors=True)


_MOVE = re.compile(r"MOVE (-?[0-9]+)(?: -?[0-9]+)?")  # steps [aim]


class PtyProxy:
    """A man in the middle on a real pty: the drive opens :attr:`port`, bytes go to ``target``.

    Faults (set the attributes from the test): ``mute`` drops everything the firmware sends;
    ``drop_replies = n`` drops the next n reply lines (ok/err); ``corrupt_to_fw = n`` /
    ``corrupt_to_host = n`` flip one character in the next n command / reply lines.
    """

    def __init__(self, target: str) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self.fw = os.open(target, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fw)
        os.set_blocking(self.master, False)
        self.mute = False
        self.drop_replies = 0
        self.corrupt_to_fw = 0
        self.corrupt_to_host = 0
        self.corrupted: list[bytes] = []  # lines as corrupted in transit
        self.dropped: list[bytes] = []
        self.to_fw: list[bytes] = []  # every command line that reached the firmware
        self.targets: list[int] = []  # MOVE targets (steps) that reached the firmware intact
        self._last_seq = None
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _corrupt(line: bytes) -> bytes:
        body = bytearray(line)
        i = len(body) // 2
        body[i] = ord("#") if body[i] != ord("#") else ord("%")
        return bytes(body)

    def _write(self, fd: int, data: bytes) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(fd, data)  # like a wire: what cannot be delivered is lost

    def _from_host(self, line: bytes) -> None:
        if self.corrupt_to_fw > 0:
            self.corrupt_to_fw -= 1
            line = self._corrupt(line)
            self.corrupted.append(line)
        self.to_fw.append(line)
        body = line.rstrip(b"\r\n")
        if len(body) > 3 and body[-3:-2] == b"*" and fp.crc8(body[:-3]) == _hex(body):
            seq, _, rest = body[:-3].decode("ascii", "replace").partition(" ")
            if seq != self._last_seq:  # a resend is not executed again: not a new target
                m = _MOVE.fullmatch(rest)
                if m:
                    self.targets.append(int(m.group(1)))
                self._last_seq = seq
        self._write(self.fw, line)

    def _from_fw(self, line: bytes) -> None:
        if self.mute:
            self.dropped.append(line)
            return
        is_reply = line.startswith((b"ok", b"err"))
        if is_reply and self.drop_replies > 0:
            self.drop_replies -= 1
            self.dropped.append(line)
            return
        if is_reply and self.corrupt_to_host > 0:
            self.corrupt_to_host -= 1
            line = self._corrupt(line)
            self.corrupted.append(line)
        self._write(self.master, line)

    def _run(self) -> None:
        bufs = {self.master: b"", self.fw: b""}
        while not self._closed:
            try:
                ready, _, _ = select.select([self.master, self.fw, self._wake_r], [], [], 0.5)
            except (OSError, ValueError):
                return
            for fd in ready:
                if fd == self._wake_r:
                    return
                try:
                    chunk = os.read(fd, 4096)
                except (BlockingIOError, OSError):
                    continue
                if fd == self.master:
                    # the realtime stop byte passes at once, outside the line framing
                    if b"\x18" in chunk:
                        self._write(self.fw, b"\x18" * chunk.count(b"\x18"))
                        chunk = chunk.replace(b"\x18", b"")
                    bufs[fd] += chunk
                    while b"\n" in bufs[fd]:
                        line, _, bufs[fd] = bufs[fd].partition(b"\n")
                        self._from_host(line + b"\n")
                else:
                    bufs[fd] += chunk
                    while b"\n" in bufs[fd]:
                        line, _, bufs[fd] = bufs[fd].partition(b"\n")
                        self._from_fw(line + b"\n")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self.master, self._slave, self.fw, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _hex(body: bytes) -> int:
    try:
        return int(body[-2:], 16)
    except ValueError:
        return -1
