"""What scripts and people read from the CLI (issue 16, items 10-14), run as processes.

- every ``--json`` document and ndjson line carries ``"schema": "focuscam/1"``; autofocus
  ``samples`` are ``{"z_um", "score"}`` objects; runs carry ``started_utc``, recordings
  ``recorded_utc`` (ISO 8601, UTC);
- text output prints z to a tenth of the stack's plane spacing;
- long work shows n/total and a rate on a terminal; Ctrl-C in ``evaluate`` keeps the rows done;
- messages fit the source kind (a file that is not a video is bad input, exit 2, one line).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _cli_env

from focuscam.cli._json import SCHEMA
from focuscam.plot import z_decimals

ROOT = Path(__file__).resolve().parents[1]


def _utc(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert when.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) < 3600
    return when


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small synthetic z-sweep with a truth (9 planes 0.37 um apart, 96x72)."""
    out = tmp_path_factory.mktemp("stacks") / "small"
    cmd = ["synth", "--out", out, "--planes", "9", "--size", "96x72", "--z-step", "0.37", "--z-focus", "0.2"]
    proc = subprocess.run(
        [sys.executable, "-m", "focuscam", *map(str, cmd)], capture_output=True, text=True, env=_cli_env()
    )
    assert proc.returncode == 0, proc.stderr
    return out


def _lines(proc) -> list[dict]:
    assert proc.stdout.strip(), proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_every_json_command_carries_the_schema_key(run_cli, tmp_path, small):
    docs: dict[str, list[dict]] = {}
    commands = {
        "synth": ["synth", "--out", tmp_path / "s", "--planes", "3", "--size", "32x32", "--json"],
        "select": ["select", small, "--json"],
        "autofocus": ["autofocus", "--source", f"replay:{small}", "--drive", "sim", "--json"],
        "evaluate": ["evaluate", small, "--starts", "1", "--json"],
        "demo": ["demo", "--json"],
        "monitor": ["monitor", "--source", f"replay:{small}", "--no-window", "--frames", "3", "--json"],
        "record": [
            "record",
            "--source",
            f"replay:{small}",
            "--out",
            tmp_path / "rec",
            "--frames",
            "2",
            "--json",
        ],
        "move": ["move", "--drive", "sim", "--to", "1", "--json"],
        "rig check": ["rig", "check", ROOT / "recordings" / "rig.example.toml", "--json"],
        "batch select": ["select", small, tmp_path / "s", "--json"],  # two stacks: a batch
    }
    for name, cmd in commands.items():
        proc = run_cli(*cmd)
        assert proc.returncode in (0, 1), (name, proc.stderr)
        docs[name] = _lines(proc)
        for doc in docs[name]:
            assert doc["schema"] == SCHEMA, name
            assert next(iter(doc)) == "schema", name  # first, so a reader sees it at once
    af = docs["autofocus"][0]
    assert af["samples"] and all(set(s) == {"z_um", "score"} for s in af["samples"])
    assert len(af["samples"]) == af["frames"]
    for name in ("select", "autofocus", "evaluate", "demo"):
        for doc in docs[name]:
            _utc(doc["started_utc"])
    assert len({doc["started_utc"] for doc in docs["evaluate"]}) == 1  # once per run


def test_recordings_carry_their_wall_clock_start(run_cli, tmp_path, small):
    rec = run_cli("record", "--source", f"replay:{small}", "--out", tmp_path / "rec", "--frames", "2")
    assert rec.returncode == 0, rec.stderr
    af = run_cli(
        "autofocus",
        "--source",
        f"replay:{small}",
        "--drive",
        "sim",
        "--no-window",
        "--record",
        tmp_path / "af",
    )
    assert af.returncode in (0, 1), af.stderr
    for folder in ("rec", "af"):
        meta = json.loads((tmp_path / folder / "stack.json").read_text())
        _utc(meta["recorded_utc"])


def _decimals_after(label: str, text: str) -> list[int]:
    found = re.findall(label + r"(-?\d+(?:\.(\d+))?)", text)
    assert found, text
    return [len(frac) for _, frac in found]


def test_text_output_prints_z_to_the_stack_resolution(run_cli, small):
    want = z_decimals(0.37)  # a tenth of the plane spacing: 2 decimals
    sel = run_cli("select", small)
    assert sel.returncode in (0, 1), sel.stderr
    af = run_cli("autofocus", "--source", f"replay:{small}", "--drive", "sim", "--no-window")
    assert af.returncode in (0, 1), af.stderr
    for out in (sel.stdout, af.stdout):
        assert set(_decimals_after(r"z = ", out)) == {want}, out


def test_json_keeps_full_precision(run_cli, small):
    out = _lines(run_cli("select", small, "--json"))[0]
    assert out["z"] != round(out["z"], z_decimals(0.37))  # a fitted peak, not rounded


def _on_a_terminal(args: list[str]):
    """Start the CLI with stderr on a pseudo-terminal (stdout a pipe); returns (proc, master fd)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "focuscam", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
        env=_cli_env(),
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, pattern: str) -> str:
    """Read the terminal until ``pattern`` (a regex) appears or the process closes it."""
    seen = ""
    while not re.search(pattern, seen):
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the process ended and closed the terminal
            break
        if not data:
            break
        seen += data.decode(errors="replace")
    return seen


def test_evaluate_shows_n_of_total_and_a_rate_on_a_terminal(small):
    proc, master = _on_a_terminal(["evaluate", small, "--starts", "1", "--strategy", "sweep"])
    try:
        seen = _read_until(master, r"(?!x)x")  # everything, until the process ends
        proc.communicate(timeout=300)  # closes the stdout pipe
        assert proc.returncode == 0
    finally:
        os.close(master)
    assert re.search(r"evaluate \[[#-]+\] 1/2 .*/s", seen), seen  # sweep and the baseline: 2 rows
    assert re.search(r" 2/2 ", seen), seen


def test_ctrl_c_in_evaluate_prints_the_finished_rows(small):
    proc, master = _on_a_terminal(
        ["evaluate", small, small, small, "--starts", "4", "--strategy", "sweep", "--strategy", "coarse-fine"]
    )
    try:
        seen = _read_until(master, r" [1-9]/9 ")  # the first row is done
        assert re.search(r" [1-9]/9 ", seen), seen
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
        seen += _read_until(master, r"(?!x)x")
    finally:
        os.close(master)
    assert proc.returncode == 130
    rows = [line for line in out.splitlines() if line.startswith("| small |")]
    assert rows, out  # the finished rows were printed, not thrown away
    message = [line for line in re.split(r"[\r\n]", seen) if "interrupted" in line]
    assert len(message) == 1 and f"after {len(rows)} of 9 rows" in message[0], seen
    assert "drive" not in seen  # no drive on the twin
    assert "Traceback" not in seen


def test_synth_draws_a_bar_per_plane_on_a_terminal(tmp_path):
    proc, master = _on_a_terminal(["synth", "--out", tmp_path / "s", "--planes", "5", "--size", "32x32"])
    try:
        seen = _read_until(master, r"(?!x)x")
        proc.communicate(timeout=300)  # closes the stdout pipe
        assert proc.returncode == 0
    finally:
        os.close(master)
    assert "synth planes [" in seen and "5/5" in seen, seen


def test_a_file_that_is_not_a_video_is_bad_input_everywhere(run_cli, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    for cmd in (
        ["select", bad],
        ["monitor", "--source", f"video:{bad}", "--no-window", "--frames", "1"],
        ["record", "--source", f"video:{bad}", "--out", tmp_path / "r", "--frames", "1"],
    ):
        proc = run_cli(*cmd)
        assert proc.returncode == 2, (cmd, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("focuscam: error:"), proc.stderr  # no FFmpeg lines
        assert "/dev/video" not in proc.stderr


def test_a_stream_is_told_to_check_its_address(run_cli):
    proc = run_cli("monitor", "--source", "camera:rtsp://127.0.0.1:9/none", "--no-window", "--frames", "1")
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "address" in lines[0] and "network" in lines[0], proc.stderr
    assert "/dev/video" not in proc.stderr


def test_a_missing_uvc_camera_prints_only_focuscams_line(run_cli):
    if Path("/dev/video97").exists():  # pragma: no cover
        pytest.skip("a camera 97 exists here")
    proc = run_cli("move", "--drive", "uvc:97", "--to", "1")
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "ls /dev/video" in lines[0], proc.stderr  # no OpenCV WARN lines


def test_a_replay_peak_at_the_end_says_the_recorded_range(run_cli, tmp_path):
    out = tmp_path / "edge"
    made = run_cli("synth", "--out", out, "--planes", "9", "--size", "96x72", "--z-focus", "12")
    assert made.returncode == 0, made.stderr
    proc = run_cli("autofocus", "--source", f"replay:{out}", "--drive", "sim", "--no-window", "--json")
    doc = _lines(proc)[0]
    assert doc["state"] == "failed" and "limit" in doc["reason"], doc["reason"]
    assert "widen the limits" not in doc["reason"]  # the twin's limits are the recorded planes
    assert "end of the recorded range" in doc["reason"]


@pytest.mark.parametrize(
    ("kind", "device", "fits", "unfit"),
    [
        ("url", "rtsp://cam.local/live", "network", "/dev/video"),
        ("file", "clip.mp4", "video file", "/dev/video"),
        ("camera", 0, "/dev/video", "network"),
    ],
)
def test_open_advice_fits_the_source_kind(kind, device, fits, unfit):
    from focuscam.errors import InputError, SourceError
    from focuscam.sources._capture import open_failed as _open_failed

    error = _open_failed(kind, f"{kind} {device}", device)
    assert fits in str(error) and unfit not in str(error)
    assert isinstance(error, InputError if kind == "file" else SourceError)  # exit 2 vs exit 3
