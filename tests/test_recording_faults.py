"""Recordings under faults: SIGKILL at random moments, a real full disk, a failing journal.

The stack on disk must list every frame whose PNG is complete, whatever ends the process
(the journal of FORMAT.md), and a full disk must keep every complete frame listed, leave no
partial file and exit 3 with one line.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import _cli_env

from focuscam.errors import StackError, StorageError
from focuscam.stacks import JOURNAL, StackWriter, load_stack, save_stack

FRAME_NAME = "frames/{:06d}.png"


def _noise_stack(path: Path, n: int, shape=(48, 64), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]
    return save_stack(path, frames, kind="sequence")


def _complete_frames(out: Path) -> set[str]:
    """PNG files under their final names (the writer renames a frame only once it is complete)."""
    frames = out / "frames"
    if not frames.is_dir():
        return set()
    return {f"frames/{p.name}" for p in frames.iterdir() if p.name.endswith(".png")}


def _listed(out: Path) -> set[str]:
    if not (out / "stack.json").exists():
        return set()
    try:
        stack = load_stack(out)
    except StackError as exc:  # killed between listing frame 0 and renaming its PNG
        assert "holds no complete frame" in str(exc)
        assert not _complete_frames(out)
        return set()
    for i in range(len(stack)):
        stack.image(i)  # every listed frame decodes
    return {str(f.relative_to(out)) for f in stack.files}


def _spawn(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "focuscam", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_cli_env(),
    )


def _kill_when(proc: subprocess.Popen, out: Path, frames: int, delay_s: float) -> int:
    """SIGKILL ``proc`` once ``frames`` PNGs are complete (an event), plus ``delay_s`` (a random
    moment inside the next frames); the moment does not depend on what is listed."""
    while len(_complete_frames(out)) < frames and proc.poll() is None:
        time.sleep(0.002)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    return frames


def test_sigkill_of_a_real_recording_loses_no_complete_frame(tmp_path):
    src = _noise_stack(tmp_path / "src", 30)
    rng = random.Random(12)
    lost_total = complete_total = 0
    kills = 5
    for k in range(kills):
        out = tmp_path / f"rec{k}"
        proc = _spawn("record", "--source", f"replay:{src}", "--fps", "300", "--loop", "--out", out)
        _kill_when(proc, out, rng.randrange(0, 40), rng.uniform(0.0, 0.02))
        assert proc.returncode == -signal.SIGKILL
        complete, listed = _complete_frames(out), _listed(out)
        assert listed <= complete
        lost_total += len(complete - listed)
        complete_total += len(complete)
    print(f"SIGKILL recording: {kills} kills, {complete_total} complete frames, {lost_total} lost")
    assert complete_total > 0
    assert lost_total == 0


def test_sigkill_of_autofocus_record_loses_no_complete_frame(tmp_path):
    src = tmp_path / "src"
    from focuscam.synth import SynthParams, synth_stack

    synth_stack(src, SynthParams(planes=41, width=64, height=48, seed=2))
    rng = random.Random(3)
    lost_total = complete_total = 0
    kills = 2
    for k in range(kills):
        out = tmp_path / f"af{k}"
        proc = _spawn(
            "autofocus",
            "--source",
            f"replay:{src}",
            "--drive",
            "sim",
            "--record",
            out,
            "--no-window",
            "--json",
        )
        _kill_when(proc, out, rng.randrange(1, 20), rng.uniform(0.0, 0.01))
        complete, listed = _complete_frames(out), _listed(out)
        assert listed <= complete
        lost_total += len(complete - listed)
        complete_total += len(complete)
    print(f"SIGKILL autofocus --record: {kills} kills, {complete_total} complete frames, {lost_total} lost")
    assert lost_total == 0


def _raw_listing(out: Path) -> list[str]:
    """The frame names stack.json and the journal list, read as text (no reader rules)."""
    import json

    names = []
    if (out / "stack.json").exists():
        names += [e["file"] for e in json.loads((out / "stack.json").read_text())["frames"]]
    if (out / JOURNAL).exists():
        names += [json.loads(line)["file"] for line in (out / JOURNAL).read_text().splitlines()]
    return names


def test_a_frame_is_listed_before_its_png_appears_under_its_name(tmp_path, monkeypatch):
    """The window the SIGKILL tests found (issue 12): the PNG was renamed to its name, then listed;
    a kill in between lost a complete frame. Now the rename is the commit, after the listing."""
    import focuscam.stacks.writer as mod

    out = tmp_path / "rec"
    real = os.replace
    commits = []

    def replace(src, dst):
        dst = Path(dst)
        if dst.parent.name == "frames":
            rel = f"frames/{dst.name}"
            assert rel in _raw_listing(out), f"{rel} would be complete but unlisted"
            if commits:  # the reader meanwhile: the committed frames, the pending one skipped
                assert [f"frames/{f.name}" for f in load_stack(out).files] == commits
            else:
                with pytest.raises(StackError, match="holds no complete frame"):
                    load_stack(out)
            commits.append(rel)
        return real(src, dst)

    monkeypatch.setattr(mod.os, "replace", replace)
    with StackWriter(out, name="rec") as w:
        for _ in range(4):
            w.append(np.zeros((8, 8), np.uint8))
    assert commits == [FRAME_NAME.format(i) for i in range(4)]


def test_the_reader_skips_a_last_entry_whose_png_is_still_a_part(tmp_path):
    src = _noise_stack(tmp_path / "src", 3)
    out = tmp_path / "rec"
    w = StackWriter(out, name="rec")
    for i in range(3):
        w.append(load_stack(src).image(i))
    # killed after listing frame 3, before renaming its complete PNG
    (out / (FRAME_NAME.format(3) + ".part")).write_bytes((src / FRAME_NAME.format(0)).read_bytes())
    with open(out / JOURNAL, "a") as fh:
        fh.write('{"file": "frames/000003.png", "z": null}\n')
    assert len(load_stack(out)) == 3
    (out / (FRAME_NAME.format(3) + ".part")).unlink()  # no part: a missing frame is an error
    with pytest.raises(StackError, match="missing"):
        load_stack(out)
    only = tmp_path / "first"
    StackWriter(only, name="first").append(np.zeros((8, 8), np.uint8))
    os.rename(only / FRAME_NAME.format(0), only / (FRAME_NAME.format(0) + ".part"))
    with pytest.raises(StackError, match="holds no complete frame"):
        load_stack(only)


def test_journal_reader_takes_stack_json_then_new_entries_and_skips_a_torn_last_line(tmp_path):
    src = _noise_stack(tmp_path / "src", 4)
    out = tmp_path / "rec"
    w = StackWriter(out, name="rec", z_unit="um")
    for i in range(4):
        w.append(load_stack(src).image(i), z=float(i), t=10.0 + i)
    # killed here: stack.json holds frame 0, the journal frames 1-3
    assert (out / JOURNAL).read_text().count("\n") == 3
    with open(out / JOURNAL, "a") as fh:
        fh.write('{"file": "frames/000001.png", "z": 1.0}\n')  # already listed: not twice
        fh.write('{"file": "frames/00')  # a writer killed mid-line
    stack = load_stack(out)
    assert [f.name for f in stack.files] == [f"{i:06d}.png" for i in range(4)]
    np.testing.assert_array_equal(stack.z, [0, 1, 2, 3])
    np.testing.assert_array_equal(stack.t, [10, 11, 12, 13])
    (out / JOURNAL).write_text('{"file": "frames/000001.png", "z": 1.0}\nnot json\n{"file": "x", "z": 1}\n')
    with pytest.raises(StackError, match=r"journal.ndjson: line 2 is not a JSON frame entry"):
        load_stack(out)


def test_close_folds_the_journal_into_stack_json(tmp_path):
    out = tmp_path / "rec"
    with StackWriter(out, name="rec") as w:
        for _ in range(5):
            w.append(np.zeros((8, 8), np.uint8))
        assert (out / JOURNAL).exists()
    assert not (out / JOURNAL).exists()
    assert sorted(p.name for p in out.iterdir()) == ["frames", "stack.json"]
    assert len(load_stack(out)) == 5


def test_a_failing_journal_append_removes_that_frame_and_keeps_the_rest(tmp_path, monkeypatch):
    import focuscam.stacks.writer as mod

    out = tmp_path / "rec"
    w = StackWriter(out, name="rec")
    for _ in range(3):
        w.append(np.zeros((8, 8), np.uint8))
    real = os.write

    def full(fd, data):
        return real(fd, data[: len(data) // 2])  # a short write, as on a disk filling up

    monkeypatch.setattr(mod.os, "write", full)
    with pytest.raises(StorageError, match=r"No space left on device; 3 frames are saved"):
        w.append(np.zeros((8, 8), np.uint8))
    monkeypatch.setattr(mod.os, "write", real)
    assert not (out / FRAME_NAME.format(3)).exists()
    assert (out / JOURNAL).read_bytes().endswith(b"\n")  # the half line was cut off again
    assert len(load_stack(out)) == 3
    w.close()
    assert len(load_stack(out)) == 3


@pytest.fixture
def small_fs(tmp_path):
    """A real 400 kB file system (tmpfs); skipped where mounting is impossible (not root)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_record_to_a_real_full_disk_keeps_every_complete_frame_and_exits_3(tmp_path, small_fs):
    src = _noise_stack(tmp_path / "src", 20, shape=(120, 160))  # ~19 kB incompressible PNGs
    out = small_fs / "rec"
    proc = subprocess.run(
        [sys.executable, "-m", "focuscam", "record", "--source", f"replay:{src}", "--out", str(out)],
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=120,
    )
    lines = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith("\r")]
    errors = [x for x in lines if "error" in x]
    assert proc.returncode == 3, proc.stderr
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in errors[0]
    complete, listed = _complete_frames(out), _listed(out)
    assert 3 <= len(listed) < 20
    assert listed == complete
    assert f"{len(listed)} frames are saved" in errors[0]
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert leftovers == []


def test_save_stack_to_a_real_full_disk_leaves_nothing_and_exits_3(tmp_path, small_fs, run_cli):
    proc = run_cli("synth", "--out", small_fs / "s", "--planes", "30", "--size", "160x120")
    assert proc.returncode == 3, proc.stderr
    assert "No space left on device" in proc.stderr and "nothing was saved" in proc.stderr
    assert list(small_fs.iterdir()) == []
