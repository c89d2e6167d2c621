"""Benchmark the firmware bridge: command round trips and a 1000-step move.

Builds and starts the host build of the firmware (``make -C firmware_bridge host``) on a
pseudo-terminal, talks to it through :class:`focuscam.drives.firmware.FirmwareDrive` (pyserial,
sequence numbers, CRC-8) and reports:

- the round-trip latency of each command (median and 95th percentile, ms): the time from
  writing a command line to decoding its checksummed reply;
- the wall time of a 1000-step ``move_to`` (until the read-back position), next to the ideal
  trapezoid time of the same profile, at the firmware's default and at its fastest settings.

With ``--avr`` the same is measured on the AVR build under simavr (``make avr runner``),
which runs at most at real time (``--realtime``).

Usage: python benchmarks/bench_firmware.py [--json] [--quick] [--avr]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BRIDGE = REPO / "firmware_bridge"
COMMANDS = [("ID", ()), ("POS", ()), ("STATUS", ()), ("SPEED", ()), ("LIM", ()), ("MARK", ())]


def _start(kind: str) -> tuple[subprocess.Popen, str]:
    target = "host" if kind == "host" else "avr runner"
    subprocess.run(["make", "-s", *target.split()], cwd=BRIDGE, check=True)
    if kind == "host":
        argv = [str(BRIDGE / "build/host/focuscam-motor-host")]
    else:
        argv = [
            str(BRIDGE / "build/avr/focuscam-motor-avr"),
            str(BRIDGE / "build/avr/focuscam_motor.elf"),
            "--realtime",
        ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    buf = b""
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            buf += os.read(proc.stdout.fileno(), 256)
            for line in buf.decode(errors="replace").splitlines():
                if line.startswith("/dev/"):
                    return proc, line.strip()
    proc.kill()
    raise SystemExit(f"the {kind} firmware printed no pty path: {buf!r}")


def _ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "median_ms": round(1000 * statistics.median(s), 3),
        "p95_ms": round(1000 * s[min(len(s) - 1, int(0.95 * len(s)))], 3),
        "n": len(s),
    }


def _ideal_s(steps: int, v: float, a: float) -> float:
    ramp = v * v / (2 * a)
    if 2 * ramp >= steps:
        return 2 * (steps / a) ** 0.5
    return 2 * v / a + (steps - 2 * ramp) / v


def bench(kind: str, repeats: int) -> dict:
    from focuscam.drives import open_drive

    proc, port = _start(kind)
    try:
        out: dict = {"build": kind, "round_trip": {}, "move_1000_steps": []}
        with open_drive(f"focuscam:{port}", limits=(-5000, 5000), steps_per_um=1.0, timeout_s=2.0) as drive:
            for name, args in COMMANDS:
                samples = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    drive._transact(name, *args)
                    samples.append(time.perf_counter() - t0)
                out["round_trip"][name] = _ms(samples)
            samples = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                _ = drive.position
                samples.append(time.perf_counter() - t0)
            out["round_trip"]["drive.position"] = _ms(samples)
            for speed, accel in ((800, 4000), (5000, 100000)):
                drive._transact("SPEED", speed)
                drive._transact("ACCEL", accel)
                drive._speed_now, drive._accel_now = speed, accel
                times = []
                for i in range(max(1, repeats // 50)):
                    target = 1000.0 if i % 2 == 0 else 0.0
                    t0 = time.perf_counter()
                    drive.move_to(target)
                    times.append(time.perf_counter() - t0)
                ideal = _ideal_s(1000, speed, accel)
                med = statistics.median(times)
                out["move_1000_steps"].append(
                    {
                        "speed_steps_s": speed,
                        "accel_steps_s2": accel,
                        "median_s": round(med, 4),
                        "ideal_s": round(ideal, 4),
                        "ratio": round(med / ideal, 3),
                        "n": len(times),
                    }
                )
        return out
    finally:
        proc.kill()
        proc.wait()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--avr", action="store_true", help="also run the AVR build under simavr")
    args = p.parse_args(argv)
    repeats = 50 if args.quick else 200
    results = [bench("host", repeats)]
    if args.avr:
        results.append(bench("avr", repeats // 2))
    if args.json:
        print(json.dumps(results))
        return 0
    for r in results:
        print(f"{r['build']} build: round trip per command (ms)")
        for name, s in r["round_trip"].items():
            print(f"  {name:15s} median {s['median_ms']:7.3f}  p95 {s['p95_ms']:7.3f}  (n={s['n']})")
        print(f"{r['build']} build: 1000-step move_to (s)")
        for m in r["move_1000_steps"]:
            print(
                f"  {m['speed_steps_s']} steps/s, {m['accel_steps_s2']} steps/s^2: median {m['median_s']:.4f}"
                f"  ideal {m['ideal_s']:.4f}  ratio {m['ratio']:.3f}  (n={m['n']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
