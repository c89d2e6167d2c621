"""Start-up rows of ``focuscam bench``: the CPU time of short commands as processes (issue 15).

Each command runs as a real process; its CPU time (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``) is steadier under load than wall time. Python's
bytecode cache is allowed (``PYTHONDONTWRITEBYTECODE`` dropped) and one untimed run comes
first, so numba's kernel cache and the ``.pyc`` files are warm, as after an install.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["bench_startup"]


def _cpu_of(argv: list[str], env: dict) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    # exit 1 is a finished run whose curve had no significant peak (5 planes are too few for
    # the significance rule): the start-up cost is what is measured here
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(argv[2:])} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _heavy_imports(argv: list[str], env: dict) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]], env=env, capture_output=True, text=True, timeout=600
    )
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return sorted(names & {"numpy", "numba", "cv2"})


def bench_startup(repeats: int = 5) -> dict:
    """Median CPU seconds of ``focuscam --help`` and of a warm ``focuscam select`` of a 5-frame
    320x240 synthetic stack, and the heavy modules ``--help`` imported (should be none)."""
    import numpy as np

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cli = [sys.executable, "-m", "focuscam"]
    with tempfile.TemporaryDirectory(prefix="focuscam-bench-") as tmp:
        stack = Path(tmp) / "s5"
        subprocess.run(
            [*cli, "synth", "--out", str(stack), "--planes", "5", "--size", "320x240", "--json"],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        select = [*cli, "select", str(stack), "--json"]
        helps = [*cli, "--help"]
        _cpu_of(select, env)  # warm: kernel cache and .pyc files
        _cpu_of(helps, env)
        select_s = [_cpu_of(select, env) for _ in range(repeats)]
        help_s = [_cpu_of(helps, env) for _ in range(repeats)]
        heavy = _heavy_imports(helps, env)
    return {
        "select_cpu_s": float(np.median(select_s)),
        "select_cpu_all_s": select_s,
        "help_cpu_s": float(np.median(help_s)),
        "help_heavy_imports": heavy,
    }
