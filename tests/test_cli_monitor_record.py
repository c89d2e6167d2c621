"""``focuscam monitor`` and ``focuscam record`` run as processes: output, exit codes, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import REPO, shared_stack

from focuscam.errors import StackError
from focuscam.measures import blur_report, measure
from focuscam.stacks import load_stack, save_stack


def ndjson(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_video(path, frames, fps=25.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for img in frames:
        writer.write(img)
    writer.release()
    return path


def one_error_line(proc):
    """stderr is exactly one 'focuscam: error:' line (no traceback); returns it."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("focuscam: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]


def local_maxima(values):
    return [i for i in range(1, len(values) - 1) if values[i] > values[i - 1] and values[i] >= values[i + 1]]


# ---------------------------------------------------------------------- monitor
@pytest.mark.shared
def test_scorpion_lapse_score_curve_peaks_at_its_two_sharp_moments(run_cli):
    path = shared_stack("scorpion_lapse")
    proc = run_cli("monitor", "--source", f"replay:{path}", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in ndjson(proc.stdout) if not r["late"]]  # one row per frame scored
    stack = load_stack(path)
    assert [r["seq"] for r in rows] == list(range(len(stack))) == list(range(14))
    scores = [r["score"] for r in rows]
    for i, s in enumerate(scores):  # the oracle: the measure of each frame, in this process
        assert s == pytest.approx(measure(stack.image(i), "lapv"), rel=1e-12)
    median = float(np.median(scores))
    peaks = [i for i in local_maxima(scores) if scores[i] > median]
    assert len(peaks) == 2, scores
    assert 2 <= peaks[0] <= 4 and peaks[1] == 12, scores
    # the two sharp moments are separate: the curve falls well below both in between
    assert min(scores[5:12]) < 0.5 * min(scores[peaks[0]], scores[12])


@pytest.mark.shared
def test_json_rows_with_grid_and_frame_limit(run_cli):
    path = shared_stack("scorpion_lapse")
    proc = run_cli(
        "monitor",
        "--source",
        f"replay:{path}",
        "--json",
        "--no-window",
        "--grid",
        "3x4",
        "--roi",
        "100,80,400,300",
        "--frames",
        "3",
        "--measure",
        "teng",
        "--blur",
        "sync",
    )
    assert proc.returncode == 0, proc.stderr
    rows = ndjson(proc.stdout)
    assert [r["seq"] for r in rows] == [0, 1, 2]
    stack = load_stack(path)
    for r in rows:
        assert np.array(r["focus_map"]).shape == (3, 4)
        assert r["measure"] == "teng"
        assert r["score"] == pytest.approx(measure(stack.image(r["seq"]), "teng", (100, 80, 400, 300)))
        assert isinstance(r["blurred"], bool) and 0 <= r["per"] <= 1 and 0 <= r["blur_extent"] <= 1
        assert r["blur_seq"] == r["seq"]
        for key in ("t", "fps", "measure_ms", "dropped"):
            assert key in r


@pytest.mark.shared
def test_without_no_window_it_says_once_that_it_runs_headless(run_cli, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    path = shared_stack("scorpion_lapse")
    proc = run_cli("monitor", "--source", f"replay:{path}", "--frames", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("running headless") == 1
    assert "monitor: 2 frames scored" in proc.stderr
    assert proc.stdout == ""  # no status line when stderr is not a terminal, nothing on stdout


def test_monitor_of_a_video_file_scores_every_frame(run_cli, tmp_path):
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(9)]
    path = write_video(tmp_path / "clip.avi", frames)
    proc = run_cli("monitor", "--source", f"video:{path}", "--json", "--no-window", "--blur", "off")
    assert proc.returncode == 0, proc.stderr
    rows = ndjson(proc.stdout)
    assert [r["seq"] for r in rows] == list(range(9))
    assert all(r["dropped"] == 0 for r in rows)


def test_monitor_video_that_ends_before_the_frames_asked(run_cli, tmp_path):
    rng = np.random.default_rng(2)
    path = write_video(tmp_path / "clip.avi", [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * 4)
    proc = run_cli("monitor", "--source", f"video:{path}", "--json", "--no-window", "--frames", "10")
    assert proc.returncode == 3
    assert "ended after 4 frames, before the 10 frames asked" in one_error_line(proc)
    # what was scored was printed (plus, with the default async blur, one late verdict line)
    assert len([r for r in ndjson(proc.stdout) if not r["late"]]) == 4


@pytest.mark.parametrize(
    ("args", "code", "match"),
    [
        (["--source", "bogus:1"], 2, "unknown kind 'bogus'"),
        (["--source", "video:missing.avi"], 2, "video file missing.avi does not exist"),
        (["--source", "replay:missing_dir"], 2, "stack missing_dir does not exist"),
        (["--source", "camera:97"], 3, "camera 97 did not open"),
        (["--source", "97"], 3, "camera 97 did not open"),
    ],
)
def test_monitor_bad_sources_are_one_line(run_cli, args, code, match):
    proc = run_cli("monitor", *args, "--no-window", "--json")
    assert proc.returncode == code, proc.stderr
    assert match in one_error_line(proc)
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--grid", "3"], "RxC"),
        (["--roi", "1,2,3"], "x,y,w,h"),
        (["--frames", "0"], "from 1 to"),
        (["--measure", "nope"], "measure 'nope' is unknown"),
        (["--roi", "0,0,5000,5000"], "roi"),
        (["--loop", "--fps", "0"], "from 0.01 to"),
    ],
)
def test_monitor_bad_flags_exit_2_one_line(run_cli, args, match, tmp_path):
    save_stack(tmp_path / "s", [np.zeros((32, 32), np.uint8)] * 2, kind="sequence")
    proc = run_cli("monitor", "--source", f"replay:{tmp_path / 's'}", "--no-window", *args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and match in lines[0], proc.stderr


def test_monitor_frame_of_another_size_mid_stream(run_cli, tmp_path):
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 255, (32, 40), dtype=np.uint8) for _ in range(5)]
    save_stack(tmp_path / "s", frames, kind="sequence")
    meta = json.loads((tmp_path / "s" / "stack.json").read_text())
    odd = tmp_path / "s" / meta["frames"][3]["file"]
    cv2.imwrite(str(odd), np.zeros((16, 20), np.uint8))
    proc = run_cli("monitor", "--source", f"replay:{tmp_path / 's'}", "--json", "--no-window")
    assert proc.returncode == 2
    assert "every frame of a stack must have the same size" in one_error_line(proc)
    assert [r["seq"] for r in ndjson(proc.stdout)] == [0, 1, 2]


# ---------------------------------------------------------------------- record
@pytest.mark.shared
def test_record_keeps_16bit_frames_and_times(run_cli, tmp_path):
    src = shared_stack("dfnn_mitochondria")
    proc = run_cli("record", "--source", f"replay:{src}", "--out", tmp_path / "rec", "--frames", "4")
    assert proc.returncode == 0, proc.stderr
    assert "recorded 4 frames" in proc.stderr
    rec, orig = load_stack(tmp_path / "rec"), load_stack(src)
    assert rec.kind == "sequence" and len(rec) == 4 and np.all(np.diff(rec.t) >= 0)
    for i in range(4):
        assert rec.image(i).dtype == np.uint16
        np.testing.assert_array_equal(rec.image(i), orig.image(i))


def test_record_a_video_that_ends_before_frames_n(run_cli, tmp_path):
    rng = np.random.default_rng(6)
    path = write_video(tmp_path / "clip.avi", [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * 5)
    proc = run_cli("record", "--source", f"video:{path}", "--out", tmp_path / "rec", "--frames", "50")
    assert proc.returncode == 3
    line = one_error_line(proc)
    assert "ended after 5 frames (before the 50 frames asked); 5 frames saved in" in line
    assert len(load_stack(tmp_path / "rec")) == 5


def test_record_refuses_an_out_dir_with_content(run_cli, tmp_path):
    out = tmp_path / "rec"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = run_cli("record", "--source", "camera:97", "--out", out)
    assert proc.returncode == 2
    assert "not empty: choose a new folder" in one_error_line(proc)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("args", "code", "match"),
    [
        (["--source", "bogus:1"], 2, "unknown kind"),
        (["--source", "video:missing.avi"], 2, "does not exist"),
        (["--source", "camera:97"], 3, "camera 97 did not open"),
    ],
)
def test_record_bad_sources_leave_no_folder(run_cli, tmp_path, args, code, match):
    proc = run_cli("record", *args, "--out", tmp_path / "rec")
    assert proc.returncode == code
    assert match in one_error_line(proc)
    assert not (tmp_path / "rec").exists()


def test_record_frames_and_seconds_are_exclusive(run_cli, tmp_path):
    proc = run_cli("record", "--source", "0", "--out", tmp_path / "r", "--frames", "2", "--seconds", "1")
    assert proc.returncode == 2
    assert "not allowed with" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def _frames_on_disk(out):
    """Frames the stack on disk lists now (stack.json and the recording journal)."""
    try:
        return len(load_stack(out))
    except StackError:
        return 0


@pytest.mark.shared
def test_record_ctrl_c_exits_130_with_a_valid_stack_of_every_frame(tmp_path, spawn_cli):
    src = shared_stack("scorpion_lapse")
    out = tmp_path / "rec"
    proc = spawn_cli("record", "--source", f"replay:{src}", "--loop", "--fps", "30", "--out", out)
    deadline = time.monotonic() + 60
    while _frames_on_disk(out) < 12 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert _frames_on_disk(out) >= 12, "the recording did not start"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if "interrupted" in x]
    assert len(line) == 1, err
    saved = int(line[0].split("recording interrupted: ")[1].split(" frames saved")[0])
    rec = load_stack(out)
    assert len(rec) == saved >= 12
    frames_written = sorted((out / "frames").iterdir())
    assert len(frames_written) in (saved, saved + 1)  # at most one PNG of a frame cut short
    orig = load_stack(src)
    for i in range(saved):
        np.testing.assert_array_equal(rec.image(i), orig.image(i % len(orig)))


@pytest.mark.shared
def test_monitor_ctrl_c_exits_130(spawn_cli):
    src = shared_stack("scorpion_lapse")
    proc = spawn_cli("monitor", "--source", f"replay:{src}", "--loop", "--fps", "30", "--json", "--no-window")
    first = proc.stdout.readline()
    assert json.loads(first)["seq"] == 0
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err  # -6 was an orphaned worker aborting (see focuscam._threads)
    assert "Traceback" not in err and "interrupted" in err


def test_help_documents_specs(run_cli):
    for cmd in ("monitor", "record"):
        proc = run_cli(cmd, "--help")
        assert proc.returncode == 0
        for form in ("camera:0", "video:FILE", "replay:STACK_DIR"):
            assert form in proc.stdout


def test_repo_has_no_copied_shared_stack():
    assert not (REPO / "tests" / "scorpion_lapse").exists()


@pytest.mark.shared
def test_status_line_on_a_terminal_is_rewritten_in_place(tmp_path):
    import pty

    src = shared_stack("scorpion_lapse")
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONWARNINGS="error")
    args = ["monitor", "--source", f"replay:{src}", "--fps", "20", "--frames", "14", "--no-window"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "focuscam", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    text = b"".join(chunks).decode()
    assert proc.returncode == 0, text
    assert out == b""
    status = [part for part in text.split("\r") if "fps" in part]
    assert len(status) >= 2, text  # updated in place several times
    assert all("lapv" in s and "ms" in s and "dropped" in s for s in status)
    assert "monitor: 14 frames scored, 0 dropped" in text


def _small_frames(n, size=(64, 48), seed=8):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def _wait_for(predicate, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return predicate()


def test_record_from_a_live_stream_that_dies_exits_3_with_a_valid_stack(tmp_path, spawn_cli):
    # a file:// URL is opened as a live stream: at its end it is reopened (reconnect), and once
    # the file is gone the reconnect attempts fail: the "camera" was unplugged mid-recording
    path = write_video(tmp_path / "cam.avi", _small_frames(10))
    out = tmp_path / "rec"
    proc = spawn_cli("record", "--source", f"camera:file://{path}", "--out", out)
    assert _wait_for(lambda: _frames_on_disk(out) >= 15, proc), "the recording did not start"
    path.unlink()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    line = one_error_line(subprocess.CompletedProcess([], 3, "", err))
    assert "did not come back after 3 reconnect attempts" in line
    saved = int(line.split("; ")[-1].split(" frames saved")[0])
    assert len(load_stack(out)) == saved >= 15


def test_monitor_frame_size_change_of_a_live_stream_exits_3(tmp_path, spawn_cli):
    path = write_video(tmp_path / "cam.avi", _small_frames(10))
    proc = spawn_cli("monitor", "--source", f"camera:file://{path}", "--json", "--no-window")
    first = proc.stdout.readline()
    assert "seq" in json.loads(first)  # a live source: it may have dropped frames already
    # the camera comes back from its next reconnect with another resolution
    os.replace(write_video(tmp_path / "other.avi", _small_frames(10, size=(32, 24))), path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    line = one_error_line(subprocess.CompletedProcess([], 3, "", err))
    assert "changed its size mid-stream" in line and "(24, 32, 3)" in line
    rows = ndjson(first + out)
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(set(seqs))
    drops = [r["dropped"] for r in rows]
    assert drops == sorted(drops)  # a running count


@pytest.mark.shared
def test_monitor_async_json_ends_with_the_last_frames_own_verdict(run_cli):
    path = shared_stack("scorpion_lapse")
    proc = run_cli("monitor", "--source", f"replay:{path}", "--json", "--no-window")
    assert proc.returncode == 0, proc.stderr
    rows = ndjson(proc.stdout)
    stack = load_stack(path)
    scored = [r for r in rows if not r["late"]]
    assert [r["seq"] for r in scored] == list(range(len(stack)))
    for r in rows:  # a verdict always names its frame, never a newer one
        assert r["blur_seq"] is None or r["blur_seq"] <= r["seq"]
    last = rows[-1]
    assert last["blur_seq"] == last["seq"] == len(stack) - 1
    assert last["blurred"] == blur_report(stack.image(last["seq"])).is_blurred


@pytest.mark.shared
def test_monitor_text_mode_says_how_many_frames_got_their_own_verdict(run_cli):
    path = shared_stack("scorpion_lapse")
    proc = run_cli("monitor", "--source", f"replay:{path}", "--no-window", "--blur", "sync")
    assert proc.returncode == 0, proc.stderr
    assert "blur verdicts for 14 of 14 frames (sync)" in proc.stderr
