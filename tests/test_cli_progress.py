"""The CLI progress bar: drawn on a terminal only, never into pipes or JSON output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from focuscam.cli._progress import Progress, progress_enabled
from focuscam.errors import InputError


@pytest.fixture
def tty():
    """A real terminal: the slave side of a pseudo-terminal, opened as a text stream."""
    master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8", closefd=True)
    yield stream, master
    stream.close()
    os.close(master)


def read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode()


def test_pipes_and_files_get_nothing():
    buf = io.StringIO()
    with Progress(5, label="sweep", stream=buf, min_interval=0) as bar:
        for _ in range(5):
            bar.advance()
    assert buf.getvalue() == ""
    r, w = os.pipe()
    with open(w, "w") as pipe:
        assert not progress_enabled(pipe)
    os.close(r)


def test_a_terminal_gets_a_bar_that_reaches_the_total_and_is_cleared(tty):
    stream, master = tty
    assert progress_enabled(stream)
    with Progress(4, label="sweep", stream=stream, min_interval=0, width=8) as bar:
        for _ in range(4):
            bar.advance()
    out = read_all(master)
    assert "sweep [--------] 0/4" in out
    assert "sweep [########] 4/4" in out
    assert out.endswith("\r\x1b[K")  # the line is cleared at the end


def test_json_output_silences_it_even_on_a_terminal(tty):
    stream, master = tty
    assert not progress_enabled(stream, json_output=True)
    with Progress(3, stream=stream, enabled=False, min_interval=0) as bar:
        bar.advance(3)
    assert read_all(master) == ""


def test_open_ended_count_and_throttling(tty):
    stream, master = tty
    bar = Progress(None, label="record", stream=stream, min_interval=3600)
    with bar:
        for _ in range(10):
            bar.advance()
    out = read_all(master)
    # drawn once on entry; the throttle held back every later redraw
    assert out.count("record ") == 1
    assert bar.line().startswith("record 10 ")


def test_bad_total_is_refused():
    with pytest.raises(InputError, match="total"):
        Progress(-1)
    with pytest.raises(InputError, match="total"):
        Progress(2.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the commands, run as processes
def drain(fd: int) -> str:
    """Everything written to a pty whose slave side is closed (EIO marks the end on Linux)."""
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


TARGET = Path(__file__).resolve().parents[1] / "recordings" / "target_color"
SHOWS_PROGRESS = {
    "autofocus": ["autofocus", "--source", f"replay:{TARGET}", "--drive", "sim", "--no-window"],
    "evaluate": ["evaluate", str(TARGET), "--strategy", "sweep", "--starts", "2"],
    "record": ["record", "--source", f"replay:{TARGET}", "--frames", "3", "--out", "{tmp}/rec"],
    "select": ["select", str(TARGET)],
}


def run_with_stderr_on(argv, stderr, tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="error")
    args = [a.format(tmp=tmp_path) for a in argv]
    return subprocess.run(
        [sys.executable, "-m", "focuscam", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(SHOWS_PROGRESS))
def test_piped_stderr_gets_no_progress(tmp_path, name):
    proc = run_with_stderr_on(SHOWS_PROGRESS[name], subprocess.PIPE, tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    err = proc.stderr.decode()
    assert "\r" not in err and "\x1b[K" not in err
    assert f"{name} [" not in err and "recording [" not in err


@pytest.mark.parametrize("name", sorted(SHOWS_PROGRESS))
def test_a_terminal_stderr_gets_a_bar(tmp_path, name):
    master, slave = os.openpty()
    try:
        proc = run_with_stderr_on(SHOWS_PROGRESS[name], slave, tmp_path)
        os.close(slave)
        slave = -1
        err = drain(master)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    assert proc.returncode in (0, 1), err
    label = "recording" if name == "record" else name
    assert "\r\x1b[K" + label in err


def test_json_silences_the_bar_on_a_terminal(tmp_path):
    master, slave = os.openpty()
    try:
        proc = run_with_stderr_on([*SHOWS_PROGRESS["autofocus"], "--json"], slave, tmp_path)
        os.close(slave)
        slave = -1
        err = drain(master)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    assert proc.returncode in (0, 1), err
    assert "autofocus" not in err and "\x1b[K" not in err
