"""``focuscam select PATH... --out results.ndjson``: the many-stack (batch) side of ``select``.

One JSON line per stack as it finishes (stdout, or appended to ``--out`` and flushed line by
line, so a killed batch leaves a valid file of whole lines), a progress bar with the total and
the rate on a terminal, a summary at the end. ``--resume`` skips the stacks already in
``--out`` (an incomplete last line, from a kill mid-write, is dropped first).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .._wallclock import utc_now
from ..errors import InputError
from ._json import versioned

BATCH_OPTIONS = ("glob", "workers", "scheduler", "out", "resume", "export_best")

EPILOG = """\
many stacks (batch):
  focuscam select plate1/ --out plate1.ndjson              every stack below plate1/
  focuscam select scans/ --glob '*.tif' --workers 2        each multi-page TIFF is a stack
  focuscam select a/ b/ c.tif --scheduler tcp://head:8786  an existing Dask cluster
  focuscam select plate1/ --out plate1.ndjson --resume     continue a killed batch
  focuscam select plate1/ --export-best best/              selected planes + best/index.csv

Several PATHs or any of the options below select the plane of every stack (an archive folder
is taken apart into its stacks; alone it needs an option, e.g. --out) on a local Dask cluster
(--workers N processes, default one per core; --workers 0 runs them one after another in this
process) or on --scheduler. Each line has the keys of --json plus
"error" (null, or why the stack could not be read: state "error"; the batch goes on).
Batch exit codes: 0 every stack focused, 1 some failed or could not be read, 2 bad input.
"""


def workers_arg(text: str) -> int:
    """``--workers``: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers: give a whole number >= 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch flags of ``select``."""
    group = parser.add_argument_group("many stacks (batch)")
    group.add_argument("--glob", metavar="PATTERN", help="stacks are the matches of PATTERN in each PATH")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=workers_arg,
        metavar="N",
        help="local Dask worker processes (default: one per core; 0 = serial, in this process)",
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, tcp://host:8786")
    group.add_argument("--out", metavar="RESULTS.ndjson", help="append the JSON lines to this file")
    group.add_argument("--resume", action="store_true", help="skip the stacks already in --out")
    group.add_argument("--export-best", metavar="DIR", help="write each selected plane + DIR/index.csv")


def is_batch(args: argparse.Namespace) -> bool:
    """True when ``select`` was asked for more than today's one stack."""
    given = [getattr(args, k) for k in BATCH_OPTIONS]
    return len(args.path) > 1 or any(v is not None and v is not False for v in given)


class LineFile:
    """A text file of whole lines, appended and flushed one line at a time.

    With ``resume`` an existing file is kept: its complete lines are read (``lines``) and an
    incomplete last line (a kill in mid-write) is cut off before anything is appended. Without
    ``resume`` an existing non-empty file is refused, so a finished batch is never overwritten.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool, flag: str) -> None:
        self.path = Path(path)
        self.lines: list[str] = []
        if self.path.is_dir():
            raise InputError(f"{flag} {self.path} is a folder: give a file name, e.g. {flag} results.ndjson")
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and not resume:
            raise InputError(f"{flag} {self.path} already exists: add --resume to continue it, or remove it")
        try:
            self._fh = open(self.path, "a+b")  # closed by close()
        except OSError as exc:
            raise InputError(f"{flag} {self.path} cannot be opened: {exc.strerror or exc}") from None
        if size:
            self._fh.seek(0)
            data = self._fh.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                self._fh.truncate(keep)
            self.lines = data[:keep].decode("utf-8", errors="replace").splitlines()

    def write(self, line: str) -> None:
        self._fh.write(line.encode("utf-8") + b"\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _previous(lines: list[str]) -> list[dict[str, Any]]:
    """The records of an --out file being resumed (lines that are not records are ignored)."""
    records = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("path"), str):
            records.append(rec)
    return records


def _csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def _executor(args: argparse.Namespace) -> tuple[Any, Any]:
    """(Dask client or None for the serial loop, context manager to close) from the flags."""
    from ..batch import connect, local_client

    if args.scheduler is not None:
        client = connect(args.scheduler)
        return client, client
    if args.workers == 0:
        return None, None
    ctx = local_client(args.workers)
    return ctx.__enter__(), ctx


def run_batch(args: argparse.Namespace) -> int:
    """Run ``select`` over every stack the PATHs name; returns the batch exit code."""
    from .. import batch
    from ..export import CSV_COLUMNS, INDEX_NAME, csv_row, export_stems, prepare_dir
    from ._progress import Progress

    if args.plot is not None:
        raise InputError("--plot draws one stack's curve: give one PATH and no batch option, or drop --plot")
    if args.resume and args.out is None:
        raise InputError("--resume continues an --out file: add --out results.ndjson")
    box = batch._check_options(args.measure, args.roi, args.bin, args.mode)
    import cv2

    # OpenCV's own stderr lines about corrupt frames would tear the bar: each such stack is
    # reported in its result line instead (the local workers get OPENCV_LOG_LEVEL=SILENT).
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    stacks = [str(p) for p in batch.find_stacks(args.path, args.glob)]
    if not stacks:
        raise InputError(
            f"no stacks found in {' '.join(args.path)}: give stack folders, image folders, TIFF or "
            "video files" + (f", or a --glob that matches them (not {args.glob!r})" if args.glob else "")
        )
    out = LineFile(args.out, resume=args.resume, flag="--out") if args.out else None
    index = None
    stems: dict[str, str] = {}
    if args.export_best is not None:
        prepare_dir(args.export_best)
        index = LineFile(Path(args.export_best) / INDEX_NAME, resume=args.resume, flag="--export-best index")
        if not index.lines:
            index.write(_csv_line(list(CSV_COLUMNS)))
        stems = export_stems(stacks)
    previous = _previous(out.lines) if out else []
    done = {os.path.abspath(r["path"]) for r in previous}
    todo = [p for p in stacks if os.path.abspath(p) not in done]
    counts = {"focused": 0, "failed": 0, "error": 0}
    errors: list[tuple[str, str]] = []
    for rec in previous:
        state = rec.get("state")
        counts[state if state in counts else "error"] += 1
        if state not in ("focused", "failed"):
            errors.append((rec["path"], str(rec.get("error"))))
    t0 = time.monotonic()
    started_utc = utc_now()  # once per batch run, on every line
    client = ctx = None
    try:
        if todo:
            client, ctx = _executor(args)
        with Progress(len(todo), label="select") as bar:
            for res in batch.select_many(
                todo,
                args.measure,
                box,
                args.bin,
                args.mode,
                client=client,
                export_best=args.export_best,
                export_names=stems,
            ):
                rec = versioned({**res.to_dict(), "started_utc": started_utc})
                text = json.dumps(rec, allow_nan=False)
                if out is not None:
                    out.write(text)
                else:  # JSON lines on stdout: clear the bar's line before each one
                    bar.close()
                    _stdout_line(text)
                if index is not None and res.export is not None:
                    index.write(_csv_line(csv_row({**rec, "file": res.export})))
                counts[res.state] += 1
                if res.error is not None:
                    errors.append((res.path, res.error))
                speed = batch.rate(bar.done + 1, time.monotonic() - t0)
                bar.advance(note=f"{speed:.1f} stacks/s, {counts['error']} errors")
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
        for f in (out, index):
            if f is not None:
                f.close()
    _summary(counts, errors, len(todo), len(previous), time.monotonic() - t0, args.out)
    return 0 if counts["focused"] == sum(counts.values()) else 1


def _stdout_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _summary(counts: dict[str, int], errors: list, ran: int, earlier: int, seconds: float, out: Any) -> None:
    from ..batch import rate

    stream = sys.stdout if out else sys.stderr
    total = sum(counts.values())
    text = (
        f"select: {total} stacks: {counts['focused']} focused, {counts['failed']} failed, "
        f"{counts['error']} errors ({ran} this run in {seconds:.1f} s, {rate(ran, seconds):.1f} stacks/s"
    )
    if earlier:
        text += f"; {earlier} done earlier"
    print(text + (f"; results in {out})" if out else ")"), file=stream)
    for path, why in errors[:10]:
        print(f"  error: {path}: {why}", file=stream)
    if len(errors) > 10:
        print(f'  ... and {len(errors) - 10} more errors (state "error" in the results)', file=stream)
