"""Ctrl-C (SIGINT) at every moment of a real process: always exit 130 with one line.

Deterministic stages: ``FOCUSCAM_STARTUP_FLAG`` makes the command mark each start-up
checkpoint with a file and ``FOCUSCAM_STARTUP_PAUSE`` makes it wait there for the signal (see
focuscam._entry). Between and after the checkpoints (imports of numba and OpenCV, the first
frames, a looping monitor) SIGINT is sent on a fixed schedule after an event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import _cli_env

from focuscam.stacks import save_stack

STAGES = ("entry", "main", "command")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 64), dtype=np.uint8) for _ in range(8)]
    return save_stack(tmp_path_factory.mktemp("ctrlc") / "s", frames, kind="sequence")


def _spawn(args, flag: Path, pause: str | None = None) -> subprocess.Popen:
    # Warnings are errors, except ResourceWarning: a Ctrl-C that lands inside CPython's own
    # import machinery (importlib's get_data, between opening a .pyc and its ``with``) leaves
    # that file object to the garbage collector, and with warnings as errors its ResourceWarning
    # is printed as "Exception ignored in: <_io.FileIO ...>" (seen once in CI, at 0.08 s). A
    # user's default warning filters ignore ResourceWarning, so they see the one line only.
    env = dict(_cli_env(), FOCUSCAM_STARTUP_FLAG=str(flag), PYTHONWARNINGS="error,ignore::ResourceWarning")
    if pause:
        env["FOCUSCAM_STARTUP_PAUSE"] = pause
    return subprocess.Popen(
        [sys.executable, "-m", "focuscam", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    """Wait until the process marks the checkpoint ``path`` (a bound, not a timing check)."""
    give_up = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < give_up, f"the command never reached the checkpoint {path.name}"
        time.sleep(0.002)


def _interrupted(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [x for x in err.splitlines() if x.strip()]
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "terminate called" not in err, err
    assert lines == ["focuscam: interrupted"], err


def _monitor(stack):
    return ("monitor", "--source", f"replay:{stack}", "--loop", "--fps", "200", "--json", "--no-window")


@pytest.mark.parametrize("stage", STAGES)
def test_ctrl_c_at_each_start_up_checkpoint_exits_130_in_one_line(tmp_path, stack, stage):
    flag = tmp_path / "flag"
    proc = _spawn(_monitor(stack), flag, pause=stage)
    _wait_for(Path(f"{flag}.{stage}"), proc)
    _interrupted(proc)


#: Seconds after the process reached its entry point: across the imports of the CLI, numba
#: and OpenCV, the first frames and the running loop.
SCHEDULE = (0.0, 0.02, 0.08, 0.3, 0.8, 1.5)


@pytest.mark.parametrize("delay", SCHEDULE)
def test_ctrl_c_on_a_fixed_schedule_through_start_up_exits_130(tmp_path, stack, delay):
    flag = tmp_path / "flag"
    proc = _spawn(_monitor(stack), flag)
    _wait_for(Path(f"{flag}.entry"), proc)
    time.sleep(delay)
    _interrupted(proc)


@pytest.mark.parametrize("attempt", range(6))
def test_ctrl_c_on_a_looping_monitor_always_exits_130(tmp_path, stack, attempt):
    proc = _spawn(_monitor(stack), tmp_path / "flag")
    for _ in range(1 + 7 * attempt):  # after a different number of scored frames each time
        assert proc.stdout.readline(), proc.communicate()
    _interrupted(proc)


def test_a_command_that_finishes_leaves_normally(tmp_path, stack):
    proc = subprocess.run(
        [sys.executable, "-m", "focuscam", "select", str(stack), "--json"],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=120,
    )
    assert proc.returncode in (0, 1) and proc.stdout.startswith("{"), proc.stderr
    assert os.environ.get("FOCUSCAM_STARTUP_FLAG") is None
