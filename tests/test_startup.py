"""Start-up: ``--help``, every ``SUB --help`` and bad-usage errors never import numpy, numba or
OpenCV, and a kernel compile is never silent (issue 15).

Imports are observed with ``python -X importtime`` (one ``import time:`` line per module
actually imported, on stderr), so the check sees the real process, not a mock.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from focuscam.cli import SUBCOMMANDS

HEAVY = ("numpy", "numba", "cv2")


def imported_modules(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, set]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "focuscam", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    modules = set()
    other = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            modules.add(name.split(".")[0])
        else:
            other.append(line)
    proc.stderr = "\n".join(other)
    return proc, modules


def test_importtime_sees_heavy_imports():
    """The probe itself can fail: a command that computes does import numpy."""
    _proc, modules = imported_modules("synth", "--help")
    assert "argparse" in modules
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import focuscam.measures as m; m.measure"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| numpy" in proc.stderr


@pytest.mark.parametrize("argv", [("--help",), *((name, "--help") for name in SUBCOMMANDS)])
def test_help_imports_no_numpy(argv):
    proc, modules = imported_modules(*argv)
    assert proc.returncode == 0, proc.stderr
    assert "usage: focuscam" in proc.stdout
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


BAD_USAGE = [
    (),
    ("no-such-command",),
    ("--no-such-flag",),
    ("select",),
    ("select", "--roi", "1,2", "stack"),
    ("select", "--bin", "99", "stack"),
    ("autofocus", "--strategy"),
    ("monitor", "--roi", "x"),
    ("synth", "--planes", "0", "out"),
    ("bench", "--bogus"),
    ("warmup", "--bogus"),
]


@pytest.mark.parametrize("argv", BAD_USAGE)
def test_bad_usage_imports_no_numpy(argv):
    proc, modules = imported_modules(*argv)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_measures_registry_imports_no_numpy():
    code = "import sys; from focuscam.measures import MEASURES; print(len(MEASURES), 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    count, has_numpy = out.stdout.split()
    assert int(count) >= 10 and has_numpy == "False"


def _run_on_pty(code: str, env: dict) -> str:
    """Run ``python -c code`` with stderr on a pseudo-terminal; return what it wrote there."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=600)
        proc.stdout.close()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode == 0, b"".join(chunks)
    return b"".join(chunks).decode(errors="replace")


def test_first_compile_prints_one_line_on_a_terminal(tmp_path):
    """An empty numba cache: compiling a kernel says so on the terminal; the cached load is quiet."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = (
        "import numpy as np\n"
        "from focuscam.measures._kernels import read_floor\n"
        "read_floor(np.ones((4, 4), np.uint8), 0, 4, 0, 4)\n"
    )
    first = _run_on_pty(code, env)
    lines = [line for line in first.replace("\r", "\n").splitlines() if "compiling" in line]
    assert len(lines) == 1, first
    assert "read_floor(uint8)" in lines[0] and "focuscam warmup" in lines[0]
    second = _run_on_pty(code, env)
    assert "compiling" not in second


def test_compile_notice_stays_off_pipes(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    code = (
        "import numpy as np\n"
        "from focuscam.measures._kernels import read_floor\n"
        "read_floor(np.ones((4, 4), np.uint16), 0, 4, 0, 4)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_warmup_covers_every_measure_dtype_and_layout():
    from focuscam.measures import MEASURES
    from focuscam.measures._compile import warmup_cases

    cases = set(warmup_cases())
    for name in MEASURES:
        for dtype in ("uint8", "uint16", "float32"):
            for channels in (1, 3):
                assert {(name, dtype, channels, 1), (name, dtype, channels, 2)} <= cases
    assert ("blur", "uint16", 3, 1) in cases


@pytest.mark.slow
def test_warmup_command_runs_every_case(run_cli):
    """`focuscam warmup --json` compiles (or loads) every case and says how many; quiet on a pipe."""
    import json

    from focuscam.measures._compile import warmup_cases

    proc = run_cli("warmup", "--json", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # every measure case, and the two synth noise kernels for int64 and float64 electrons
    assert report["cases"] == len(warmup_cases()) + 4 and report["seconds"] > 0
    assert proc.stderr == ""  # no bar and no compile lines on a pipe


_THREADS_AFTER_NUMPY = (
    "import os, sys\n"
    "if sys.argv[1] == 'cli':\n"
    "    from focuscam._entry import single_threaded_blas\n"
    "    single_threaded_blas()\n"
    "import numpy\n"
    "print(len(os.listdir('/proc/self/task')), os.environ.get('OPENBLAS_NUM_THREADS'))\n"
)


def _threads_after_numpy(mode: str, **extra: str) -> tuple[int, str]:
    from focuscam._entry import BLAS_THREADS

    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREADS} | extra
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_AFTER_NUMPY, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    count, value = out.stdout.split()
    return int(count), value


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_command_imports_numpy_with_one_blas_thread_unless_the_user_set_a_count():
    plain, unset = _threads_after_numpy("plain")
    cli, one = _threads_after_numpy("cli")
    assert (unset, one) == ("None", "1")
    if (os.cpu_count() or 1) > 1:  # a BLAS pool of one thread per core would have started
        assert cli < plain
    # the user's own setting, of any of the variables, is left as it is
    assert _threads_after_numpy("cli", OPENBLAS_NUM_THREADS="2")[1] == "2"
    assert _threads_after_numpy("cli", OMP_NUM_THREADS="2")[1] == "None"
