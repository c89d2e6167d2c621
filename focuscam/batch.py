"""Plane selection across an archive: many stacks -> :func:`~focuscam.select_plane`, on Dask.

:func:`~focuscam.archive.find_stacks` turns the paths a user gives (stack folders, image
folders, multi-page TIFF or video files, and archive folders holding any of those) into a list
of stacks; :func:`select_many` runs :func:`~focuscam.select_plane` on each and yields one
:class:`StackResult` per stack as it finishes (completion order, not input order).

Where the work runs:

- ``client=None, workers=None``: the plain loop, one stack after another in this process.
- ``workers=N``: an in-process ``distributed.LocalCluster`` of N worker *processes* (one thread
  each, memory limited to a share of the RAM), closed when the iteration ends.
- ``client=distributed.Client(...)``: any existing Dask cluster (a user who outgrows one machine
  adds machines, not code). The stacks must be readable at the same paths on the workers.

A task is one stack or a chunk of a few small stacks. Only the path travels to the worker: the
worker reads and decodes the frames itself, one at a time (stack folders decode lazily; a
multi-page TIFF is read page by page), so the memory of a worker stays bounded by a few frames
(a video is the exception: it is decoded whole). A stack that cannot be read, or whose worker
dies, becomes a :class:`StackResult` with ``error`` set: it never ends the batch.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .archive import find_stacks, open_stack
from .errors import FocuscamError, InputError
from .select import PlaneResult, select_plane

__all__ = ["StackResult", "find_stacks", "open_stack", "select_many"]

#: Keys of :meth:`PlaneResult.to_dict`, null in the line of a stack that could not be read.
RESULT_KEYS = (
    "index",
    "z",
    "z_unit",
    "state",
    "confidence",
    "scores",
    "measure",
    "reason",
    "mode",
    "bin",
    "roi",
    "z_sample",
    "at_edge",
    "second_peak",
)
#: At most this many stacks go into one task (small stacks share a task to save overhead).
MAX_CHUNK = 8
#: Chunks in flight per worker thread (the rest wait on the client, so a huge archive does not
#: flood the scheduler and Ctrl-C stops promptly).
IN_FLIGHT_PER_THREAD = 4


@dataclass(frozen=True)
class StackResult:
    """The outcome of one stack of a batch.

    Attributes
    ----------
    path : str
        The stack's path as found (relative when the user gave a relative path).
    result : PlaneResult or None
        The selected plane; None when the stack could not be read.
    error : str or None
        One line saying why the stack could not be read (None when it was).
    name : str or None
        The stack's name.
    frames : int or None
        Its number of frames.
    truth : dict or None
        The known best focus from stack.json (``z`` in the stack's ``z_unit``).
    within_tolerance : bool or None
        Whether the selected ``z`` lies within ``truth`` (None without truth or unit match).
    export : str or None
        File name (inside the export folder) of the selected plane, when exported.
    """

    path: str
    result: PlaneResult | None = None
    error: str | None = None
    name: str | None = None
    frames: int | None = None
    truth: dict[str, Any] | None = None
    within_tolerance: bool | None = None
    export: str | None = None

    @property
    def state(self) -> str:
        """``"focused"``, ``"failed"`` or ``"error"`` (the stack could not be read)."""
        return "error" if self.result is None else self.result.state

    def to_dict(self) -> dict[str, Any]:
        """The JSON line: the keys of ``select --json`` plus ``path`` and ``error``."""
        if self.result is not None:
            out = self.result.to_dict()
        else:
            out = dict.fromkeys(RESULT_KEYS)
            out["state"] = "error"
        out.update(
            path=self.path,
            name=self.name,
            frames=self.frames,
            truth=self.truth,
            within_tolerance=self.within_tolerance,
            plot=None,
            error=self.error,
        )
        return out


@dataclass(frozen=True)
class _Options:
    """What every task needs besides its paths (small: it travels with each task)."""

    measure: str = "lapv"
    roi: tuple[int, int, int, int] | None = None
    bin: int | str = "auto"
    mode: str | None = None
    export_dir: str | None = None


def _select_one(path: str, where: str, export_stem: str | None, opts: _Options) -> StackResult:
    """Select the plane of one stack (runs on a worker); every failure becomes ``error``."""
    try:
        stack = open_stack(where)
        result = select_plane(stack, name=opts.measure, roi=opts.roi, bin=opts.bin, mode=opts.mode)
        truth = stack.truth
        within = None
        if truth is not None and result.z_unit == stack.z_unit:
            within = bool(abs(result.z - truth["z"]) <= truth["tolerance"])
        export = None
        if opts.export_dir is not None and export_stem is not None:
            from .export import write_plane

            export = write_plane(stack.image(result.index), opts.export_dir, export_stem)
        return StackResult(
            path=path,
            result=result,
            name=stack.name,
            frames=len(stack),
            truth=truth,
            within_tolerance=within,
            export=export,
        )
    except (FocuscamError, OSError, IndexError) as exc:
        return StackResult(path=path, error=_one_line(str(exc)))
    except Exception as exc:  # a decoder or numeric surprise must not end a batch of thousands
        return StackResult(path=path, error=_one_line(f"unexpected {type(exc).__name__}: {exc}"))


def _select_chunk(jobs: list[tuple[str, str, str | None]], opts: _Options) -> list[StackResult]:
    return [_select_one(path, where, stem, opts) for path, where, stem in jobs]


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


# ---------------------------------------------------------------------- the batch
def _check_options(
    measure: str | None, roi: Any, bin: Any, mode: str | None
) -> tuple[int, int, int, int] | None:
    """Validate what applies to every stack once, on the client, before any work is sent."""
    from .measures import MEASURES
    from .measures._validate import check_roi
    from .search.peak import MODES
    from .types import ROI

    # None: the mode's default measure (lapv, glvn in brightfield); "auto": chosen per stack
    if (
        measure is not None
        and measure != "auto"
        and (not isinstance(measure, str) or measure not in MEASURES)
    ):
        raise InputError(f"measure {measure!r} is unknown: choose one of {', '.join(MEASURES)} or auto")
    if mode is not None and mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}: use 'max' or 'brightfield'")
    if bin != "auto" and (isinstance(bin, bool) or not isinstance(bin, int) or bin < 1):
        raise InputError(f"bin {bin!r} is not a bin factor: give a whole number >= 1 or 'auto'")
    if roi is None:
        return None
    if isinstance(roi, str):
        roi = ROI.parse(roi)
    return check_roi(roi, 2**31 - 1, 2**31 - 1)  # the shape only: each frame is checked on its worker


def chunk_size(n_stacks: int, n_threads: int) -> int:
    """Stacks per task: 1 for small batches, up to :data:`MAX_CHUNK` when there are many."""
    return max(1, min(MAX_CHUNK, n_stacks // max(1, 32 * n_threads)))


def select_many(
    paths: Iterable[str | os.PathLike[str]],
    name: str | None = None,
    roi: Any = None,
    bin: int | str = "auto",
    mode: str | None = None,
    *,
    client: Any = None,
    workers: int | None = None,
    export_best: str | os.PathLike[str] | None = None,
    export_names: dict[str, str] | None = None,
    chunk: int | None = None,
) -> Iterator[StackResult]:
    """Select the sharpest plane of many stacks; yield each result as its stack finishes.

    Parameters
    ----------
    paths : iterable of str or Path
        The stacks, each read by :func:`open_stack` on the worker (see :func:`find_stacks` to
        expand archive folders first).
    name, roi, bin, mode
        As for :func:`~focuscam.select_plane`, the same for every stack.
    client : distributed.Client or None
        Run on this Dask cluster. None: see ``workers``.
    workers : int or None
        With ``client=None``: start a local cluster of this many worker processes for the
        duration of the iteration; None (default) runs the plain serial loop in this process.
    export_best : str or Path or None
        Folder where every stack's selected plane is written (see :mod:`focuscam.export`).
    export_names : dict or None
        File stem per path for ``export_best`` (default :func:`focuscam.export.export_stems`).
    chunk : int or None
        Stacks per task (default :func:`chunk_size`).

    Yields
    ------
    StackResult
        One per stack, in completion order; unreadable stacks carry ``error``.

    Raises
    ------
    InputError
        Bad measure, ROI, bin, mode, workers or chunk (before any stack is read).
    """
    box = _check_options(name, roi, bin, mode)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers {workers!r} must be a whole number >= 1 (or None for the serial loop)")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise InputError(f"chunk {chunk!r} must be a whole number >= 1")
    shown = [str(p) for p in paths]
    stems: dict[str, str] = {}
    export_dir = None
    if export_best is not None:
        from .export import export_stems, prepare_dir

        export_dir = str(prepare_dir(export_best))
        stems = export_names if export_names is not None else export_stems(shown)
    opts = _Options(measure=name, roi=box, bin=bin, mode=mode, export_dir=export_dir)
    jobs = [(p, os.path.abspath(p), stems.get(p)) for p in shown]
    if client is None and workers is None:
        for job in jobs:
            yield _select_one(*job, opts)
        return
    if client is not None:
        yield from _run_on(client, jobs, opts, chunk)
        return
    with local_client(workers) as own:
        yield from _run_on(own, jobs, opts, chunk)


def _run_on(client: Any, jobs: list[tuple[str, str, str | None]], opts: _Options, chunk: int | None):
    from distributed import as_completed

    threads = max(1, sum(client.nthreads().values()))
    k = chunk or chunk_size(len(jobs), threads)
    chunks = [jobs[i : i + k] for i in range(0, len(jobs), k)]
    pending = iter(chunks)
    window = IN_FLIGHT_PER_THREAD * threads
    owner: dict[Any, list[tuple[str, str, str | None]]] = {}

    def submit() -> Any:
        part = next(pending, None)
        if part is None:
            return None
        fut = client.submit(_select_chunk, part, opts, pure=False)
        owner[fut] = part
        return fut

    started = [f for f in (submit() for _ in range(window)) if f is not None]
    done = as_completed(started)
    try:
        for fut in done:
            part = owner.pop(fut)
            try:
                results = fut.result()
            except Exception as exc:  # the worker died (KilledWorker) or the task could not run
                why = _one_line(f"the Dask task failed ({type(exc).__name__}: {exc})")
                results = [StackResult(path=p, error=why) for p, _, _ in part]
            fut.release()
            nxt = submit()
            if nxt is not None:
                done.add(nxt)
            yield from results
    finally:
        for fut in owner:
            fut.cancel()


class local_client:
    """A context manager: a ``distributed`` LocalCluster of worker processes and its Client.

    ``n`` processes with one thread each (numba kernels release the GIL, but OpenCV decoders
    and Python glue do not all: processes scale where threads would not), each limited to its
    share of the RAM (Dask's nanny restarts a worker that exceeds it, and the stacks of that
    task are reported as errors). Listens on localhost only, with no dashboard. The workers log
    only critical messages: a batch prints nothing of Dask's own (a task's error reaches the
    client and is reported per stack; a worker's heartbeat racing the scheduler's shutdown at
    the end of a batch logged a traceback at ERROR level, seen once in a CI run).
    """

    def __init__(self, n: int | None = None) -> None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.n = n or cores or 1
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> Any:
        distributed = quiet_dask()
        self.cluster = distributed.LocalCluster(
            n_workers=self.n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # port 0: never "port 8787 in use" (no bokeh: no dashboard)
            memory_limit="auto",
            silence_logs=logging.CRITICAL,
            env={"OPENCV_LOG_LEVEL": "SILENT"},  # a corrupt frame is reported in its result line
        )
        self.client = distributed.Client(self.cluster)
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def quiet_dask() -> Any:
    """Import ``distributed`` with its own INFO/WARNING logs (worker start-up, closing comms)
    down to errors only; InputError naming the fix when Dask is not installed."""
    for logger in ("distributed", "dask"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    try:
        import distributed
    except ImportError:
        raise InputError(
            "Dask is not installed: pip install 'focuscam[batch]' (or run the serial loop: --workers 0)"
        ) from None
    return distributed


def connect(address: str, timeout_s: float = 10.0) -> Any:
    """A ``distributed.Client`` on an existing scheduler with at least one worker.

    Raises
    ------
    InputError
        When the scheduler cannot be reached within ``timeout_s`` seconds or has no worker.
    """
    if not re.match(r"^[a-z]+://", address):
        raise InputError(f"--scheduler {address!r} must be an address like tcp://host:8786")
    distributed = quiet_dask()
    try:
        client = distributed.Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({_one_line(str(exc)) or type(exc).__name__}): "
            "start one with 'dask scheduler' or check --scheduler"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError:
        client.close()
        raise InputError(
            f"the Dask scheduler at {address} has no workers: start one with 'dask worker {address}'"
        ) from None
    return client


def rate(done: int, seconds: float) -> float:
    """Stacks per second (0 before any time has passed)."""
    return done / seconds if seconds > 0 and math.isfinite(seconds) else 0.0
