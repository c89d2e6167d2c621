"""Plane selection across an archive: focuscam.batch and ``focuscam select PATH... --out``.

The archive is generated (tests/batch_helpers.py): >= 200 small synthetic stacks with broken ones
mixed in. The CLI runs as a real process; the Dask paths use a real in-process LocalCluster (in
the CLI) and a real scheduler and worker started as separate processes.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest
from batch_helpers import make_archive

from focuscam.batch import RESULT_KEYS, StackResult, connect, find_stacks, select_many
from focuscam.cli._batch import LineFile
from focuscam.errors import InputError
from focuscam.export import CSV_COLUMNS, export_stems

DEADLINE_S = 240.0
FOCUSCAM = (sys.executable, "-m", "focuscam")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return make_archive(tmp_path_factory.mktemp("archive") / "screen")


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    return make_archive(tmp_path_factory.mktemp("small") / "plate", n_tiff=12, n_folders=1, seed=3)


def _records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "the results file must end on a whole line"
    return [json.loads(line) for line in text.splitlines()]


def _check_complete(records: list[dict], arch) -> None:
    """Every stack exactly once; good ones focused on the right plane; broken ones reported."""
    paths = collections.Counter(str(Path(r["path"]).resolve()) for r in records)
    assert set(paths) == arch.all
    assert max(paths.values()) == 1, [p for p, n in paths.items() if n > 1][:5]
    for rec in records:
        p = str(Path(rec["path"]).resolve())
        if p in arch.broken:
            assert rec["state"] == "error" and rec["index"] is None, rec
            assert isinstance(rec["error"], str) and rec["error"] and "\n" not in rec["error"]
        else:
            assert rec["error"] is None and rec["state"] == "focused", rec
            if p in arch.focus:
                assert rec["index"] == arch.focus[p], (p, rec["index"], arch.focus[p])
            else:
                assert rec["within_tolerance"] is True, rec


def _quiet(stderr: str) -> None:
    """No traceback, warning or Dask log line reached the user."""
    for noise in ("Traceback", "Warning", "distributed.", "WARN", "[ERROR"):
        assert noise not in stderr, stderr


# ---------------------------------------------------------------------- finding stacks
def test_find_stacks_takes_archives_apart_and_keeps_stacks_whole(tmp_path):
    def tiff(path, pages):
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwritemulti(str(path), [np.full((8, 8), k, np.uint8) for k in range(pages)])

    tiff(tmp_path / "scans" / "b10.tif", 3)
    tiff(tmp_path / "scans" / "b2.tif", 3)
    tiff(tmp_path / "frames" / "f1.tif", 1)  # single-page TIFFs: one image folder stack
    tiff(tmp_path / "frames" / "f2.tif", 1)
    (tmp_path / "sf" / "frames").mkdir(parents=True)
    (tmp_path / "sf" / "stack.json").write_text("{}")
    (tmp_path / ".hidden").mkdir()
    tiff(tmp_path / ".hidden" / "x.tif", 3)
    found = find_stacks([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "frames",
        "scans/b2.tif",
        "scans/b10.tif",
        "sf",
    ]
    # a stack given directly stays one stack; duplicates and stack.json collapse; missing kept
    again = find_stacks(
        [tmp_path / "sf" / "stack.json", tmp_path / "sf", tmp_path / "frames", tmp_path / "nope"]
    )
    assert [p.name for p in again] == ["sf", "frames", "nope"]
    globbed = find_stacks([tmp_path], glob="*/*.tif")
    assert [p.name for p in globbed] == ["f1.tif", "f2.tif", "b2.tif", "b10.tif"]
    with pytest.raises(InputError, match="--glob"):
        find_stacks([tmp_path], glob="/abs/*.tif")


def test_line_file_resumes_whole_lines_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "r.ndjson"
    out.write_bytes(b'{"path": "a"}\n{"path": "b"}\n{"path": "c", "sta')
    with pytest.raises(InputError, match="--resume"):
        LineFile(out, resume=False, flag="--out")
    f = LineFile(out, resume=True, flag="--out")
    assert f.lines == ['{"path": "a"}', '{"path": "b"}']
    f.write('{"path": "d"}')
    f.close()
    assert out.read_text() == '{"path": "a"}\n{"path": "b"}\n{"path": "d"}\n'
    with pytest.raises(InputError, match="folder"):
        LineFile(tmp_path, resume=True, flag="--out")


def test_export_stems_are_unique_safe_and_stable():
    paths = ["p/a b/x.tif", "p/a_b/x.tif", "p/c/stack", "p/c/stack"]
    stems = export_stems(paths)
    assert stems == export_stems(paths)
    assert len(set(stems.values())) == 3
    assert all(s.replace("_", "").replace("-", "").isalnum() for s in stems.values())


# ---------------------------------------------------------------------- the Python API
def test_select_many_serial_yields_every_stack_with_the_select_json_keys(small_archive, run_cli):
    stacks = find_stacks([small_archive.root])
    results = list(select_many(stacks))
    assert all(isinstance(r, StackResult) for r in results)
    records = [r.to_dict() for r in results]
    _check_complete(records, small_archive)
    one = json.loads(run_cli("select", next(iter(small_archive.truth)), "--json").stdout)
    envelope = {"schema", "started_utc"}  # what the CLI adds to every document (issue 16)
    assert envelope <= set(one)
    for rec in records:
        assert set(rec) | envelope == set(one) | {"error"}, set(rec) ^ (set(one) | {"error"})
    assert set(RESULT_KEYS) <= set(one)


def test_select_many_validates_once_before_reading(small_archive):
    for kwargs, needle in (
        ({"name": "nope"}, "measure"),
        ({"mode": "min"}, "mode"),
        ({"bin": 0}, "bin"),
        ({"workers": 0}, "workers"),
        ({"chunk": 0}, "chunk"),
    ):
        with pytest.raises(InputError, match=needle):
            next(select_many([small_archive.root / "nowhere"], **kwargs))


# ---------------------------------------------------------------------- the CLI on an archive
def _wait_lines(path: Path, n: int, proc: subprocess.Popen) -> int:
    """Wait until ``path`` holds ``n`` whole lines (the event), or the process ends."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        have = path.read_bytes().count(b"\n") if path.exists() else 0
        if have >= n or proc.poll() is not None:
            return have
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {n} lines in {DEADLINE_S} s")


def test_archive_on_local_workers_survives_a_kill_and_resumes_exactly_once(archive, tmp_path, run_cli):
    """>= 200 stacks with broken ones, 2 local Dask workers, SIGKILL mid-batch, then --resume."""
    assert len(archive.all) >= 200 and len(archive.broken) >= 5
    out = tmp_path / "results.ndjson"
    env = dict(os.environ, PYTHONWARNINGS="error")
    cmd = [*FOCUSCAM, "select", str(archive.root), "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        have = _wait_lines(out, 40, proc)
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        # the local cluster's processes follow their parent (none may be left behind)
        _, alive = psutil.wait_procs(family, timeout=60)
        assert not alive, alive
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    first = _records(out)
    assert 40 <= have <= len(first) < len(archive.all), "the kill must land mid-batch"
    # a kill in the middle of a write leaves an incomplete line: --resume drops it
    with open(out, "ab") as fh:
        fh.write(b'{"index": 3, "z": 1.0, "path": "' + first[0]["path"].encode())
    done = run_cli("select", archive.root, "--workers", "2", "--out", out, "--resume", timeout=DEADLINE_S)
    assert done.returncode == 1, done.stderr  # some stacks could not be read
    _quiet(done.stderr)
    records = _records(out)
    assert records[: len(first)] == first
    _check_complete(records, archive)
    summary = done.stdout.strip().splitlines()
    focused = len(archive.all) - len(archive.broken)
    assert summary[0].startswith(
        f"select: {len(archive.all)} stacks: {focused} focused, 0 failed, {len(archive.broken)} errors"
    ), summary
    assert f"{len(first)} done earlier" in summary[0]
    assert len([s for s in summary if s.startswith("  error: ")]) == len(archive.broken)


def test_stdout_gets_one_json_line_per_stack_and_stderr_the_summary(small_archive, run_cli):
    proc = run_cli("select", small_archive.root, "--workers", "0")
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    _check_complete(records, small_archive)
    assert proc.stderr.startswith(f"select: {len(small_archive.all)} stacks:"), proc.stderr
    _quiet(proc.stderr)


def test_a_terminal_gets_a_bar_with_total_and_rate(small_archive, tmp_path):
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [
                *FOCUSCAM,
                "select",
                str(small_archive.root),
                "--workers",
                "0",
                "--out",
                str(tmp_path / "r.ndjson"),
            ],
            stdout=subprocess.PIPE,
            stderr=slave,
            env=dict(os.environ, PYTHONWARNINGS="error"),
            timeout=DEADLINE_S,
            check=False,
        )
        os.set_blocking(master, False)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(slave)
        os.close(master)
    text = err.decode(errors="replace")
    total = len(small_archive.all)
    assert "select [" in text and f"/{total} " in text and "stacks/s" in text, text
    assert f"{total}/{total}" in text
    assert proc.stdout.decode().startswith(f"select: {total} stacks:")


def test_export_best_keeps_16_bit_planes_with_a_csv_index(small_archive, tmp_path, run_cli):
    best = tmp_path / "best"
    out = tmp_path / "r.ndjson"
    proc = run_cli("select", small_archive.root, "--workers", "0", "--out", out, "--export-best", best)
    assert proc.returncode == 1, proc.stderr
    records = {str(Path(r["path"]).resolve()): r for r in _records(out)}
    with open(best / "index.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    good = small_archive.all - set(small_archive.broken)
    assert {str(Path(r["path"]).resolve()) for r in rows} == good
    assert len(rows) == len(good) and len({r["file"] for r in rows}) == len(rows)
    for row in rows:
        p = str(Path(row["path"]).resolve())
        assert int(row["index"]) == records[p]["index"] and row["state"] == records[p]["state"]
        img = cv2.imread(str(best / row["file"]), cv2.IMREAD_UNCHANGED)
        if p in small_archive.frames:
            want = small_archive.frames[p][int(row["index"])]
            assert img.dtype == np.uint16 and np.array_equal(img, want)
    assert sorted(f.name for f in best.iterdir()) == sorted([*(r["file"] for r in rows), "index.csv"])


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--workers", "0", "--resume"], "--out"),
        (["--workers", "0", "--plot", "c.png"], "--plot"),
        (["--workers", "0", "--out", "exists.ndjson"], "--resume"),
        (["--workers", "0", "--glob", "*.nothing"], "no stacks found"),
        (["--workers", "-1"], "workers"),
        (["--workers", "0", "--roi", "a,b"], "--roi"),
        (["--workers", "0", "--measure", "nope"], "measure"),
        (["--scheduler", "nowhere:1"], "tcp://"),
        (["--workers", "1", "--scheduler", "tcp://127.0.0.1:9"], "not allowed with"),
    ],
)
def test_batch_usage_errors_are_one_line_exit_2(small_archive, tmp_path, monkeypatch, capsys, extra, needle):
    from focuscam.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.ndjson").write_text('{"path": "x"}\n')
    try:
        code = main(["select", str(small_archive.root), *extra])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert out == ""
    assert (tmp_path / "exists.ndjson").read_text() == '{"path": "x"}\n'


# ---------------------------------------------------------------------- a real Dask cluster
@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A dask.distributed scheduler and one worker, each its own process on localhost."""
    where = tmp_path_factory.mktemp("dask")
    sched_file = where / "scheduler.json"
    logs = []
    procs = []

    def start(module: str, *args: str) -> None:
        log = open(where / f"{module.rsplit('.', 1)[-1]}.log", "wb")  # closed at teardown
        logs.append(log)
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)  # Dask's own processes, not focuscam's
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", module, *args], stdout=log, stderr=log, cwd=where, env=env
            )
        )

    common = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)]
    try:
        start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", *common)
        deadline = time.monotonic() + DEADLINE_S
        while not (sched_file.exists() and sched_file.stat().st_size):
            assert procs[0].poll() is None, (where / "dask_scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not write its file"
            time.sleep(0.05)
        address = json.loads(sched_file.read_text())["address"]
        start(
            "distributed.cli.dask_worker",
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            *common,
        )
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def test_scheduler_path_runs_on_a_separate_dask_cluster(dask_cluster, small_archive, tmp_path, run_cli):
    out = tmp_path / "r.ndjson"
    proc = run_cli(
        "select", small_archive.root, "--scheduler", dask_cluster, "--out", out, timeout=DEADLINE_S
    )
    assert proc.returncode == 1, proc.stderr
    _quiet(proc.stderr)
    _check_complete(_records(out), small_archive)


def test_select_many_on_a_client_of_that_cluster(dask_cluster, small_archive):
    from distributed import Client

    stacks = find_stacks([small_archive.root])
    with Client(dask_cluster, timeout=60) as client:
        where = set(client.run(os.getpid).values())
        assert os.getpid() not in where  # the work runs elsewhere
        records = [r.to_dict() for r in select_many(stacks, client=client, chunk=2)]
    _check_complete(records, small_archive)


def test_an_unreachable_scheduler_is_an_input_error_naming_the_fix():
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 "):
        connect("tcp://127.0.0.1:9", timeout_s=1.0)


def test_a_multi_page_tiff_is_selected_holding_a_few_frames_not_the_stack(tmp_path):
    """open_stack reads a TIFF page by page: peak memory is a few frames, not all of them."""
    import tracemalloc

    from focuscam.archive import open_stack
    from focuscam.select import select_plane
    from focuscam.stacks import load_stack

    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 4000, (256, 256), dtype=np.uint16) for _ in range(40)]
    path = tmp_path / "deep.tif"
    assert cv2.imwritemulti(str(path), frames)
    frame_bytes = frames[0].nbytes
    del frames

    def peak(opener) -> int:
        tracemalloc.start()
        try:
            select_plane(opener(path), bin=1)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(open_stack)  # warm-up: imports and numba kernels allocate once
    # the curve's peak fit has working memory of its own, whatever the frames: measured apart
    from focuscam.search.peak import fit_peak

    tracemalloc.start()
    try:
        fit_peak(np.arange(40.0), rng.random(40))
        fit_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak(open_stack) < 8 * frame_bytes + fit_bytes
    assert peak(load_stack) > 30 * frame_bytes  # the whole-stack reader, for contrast
