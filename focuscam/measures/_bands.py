"""Row bands of a large region shared with one helper thread, when a second core is free.

A region whose kernel takes long enough (:data:`MIN_WORK` bytes of pixels, e.g. a 1080p uint16
or BGR frame or a 20-megapixel one) is cut into row bands. The calling thread posts the job to
one persistent helper thread and starts on the bands itself; each thread claims the next band
(``next`` of one :func:`itertools.count`, atomic under the GIL) and computes it into its own
buffers. The caller never waits long for the helper: once no band is left to claim, a band the
helper holds is waited for at most as long as the caller's own bands took, then computed again
by the caller (a band is a pure function of the frame: done twice, both answers are the same,
and the first one is kept). So with the other core busy the caller does (nearly) all the work
itself and loses only the post of the job, and with it free the bands are shared.

The kernels' accumulators are integers, and a band's are those of the region's rows in it
(every kernel already keeps per-tile sums for focus maps, with real neighbours across tile
edges at ``bin=1``), so the summed bands are the whole region's sums bit for bit.

Measured on the 2-core AMD EPYC VM (2026-12-06; ``focuscam bench``'s rows, cold 96 MB pools,
interleaved with the OpenCV formulations, two runs each, milliseconds of lapv): 5472 x 3648
uint16 5.73/5.64 -> 3.53/3.42 (1.88 -> 1.09-1.22x the read floor); 3840 x 2160 BGR 3.82/4.03 ->
2.46/2.54; 1080p BGR 1.06/1.08 -> 0.84-0.98; 1080p uint16 0.67/0.66 -> 0.58/0.58; 1080p gray
(2 MB, 4 bands) 0.39/0.38 -> 0.40/0.40, no gain and no loss. The two vCPUs of this VM share their
arithmetic (a warm compute-bound kernel run on both took 1.8x as long on each) while reads from
memory scale (the read floor on both: 1.05x as long on each), so the gain is largest on the
largest frames; below 2 MB the helper's wake-up (~25 us) and the bands' Python cost eat it.

``FOCUSCAM_THREADS=1`` in the environment keeps every measure on the calling thread.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time

#: Least bytes of pixels in a region before its bands are shared (a 1080p gray frame).
MIN_WORK = 2 << 20
#: Bytes of pixels per band (bands are whole rows, between 4 and :data:`MAX_BANDS`).
BAND_WORK = 1 << 20
MAX_BANDS = 16


class _Job:
    """One region: its band edges, the claim counter and the helper's answers by band."""

    __slots__ = ("claims", "edges", "fn", "results")

    def __init__(self, fn, edges: list[int]) -> None:
        self.fn = fn
        self.edges = edges
        self.claims = itertools.count()
        self.results: list = [None] * (len(edges) - 1)

    def work(self) -> int:
        """Compute bands until none is left to claim; return how many this thread did."""
        fn, edges, results, done = self.fn, self.edges, self.results, 0
        nb = len(results)
        if fn is None:  # the caller is done: nothing is left to claim
            return done
        for b in self.claims:
            if b >= nb:
                return done
            results[b] = fn(edges[b], edges[b + 1])
            done += 1
        return done  # pragma: no cover - count() never ends


class _Helper:
    """The one helper thread of this process (started at first use, again after a fork)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="focuscam-bands", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.work()
            except Exception:  # the caller computes the band again and raises the error itself
                continue


_HELPER: _Helper | None = None
_START = threading.Lock()


def _reset_after_fork() -> None:
    global _HELPER
    _HELPER = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def enabled() -> bool:
    """False when ``FOCUSCAM_THREADS`` is ``1`` (read on every call: it can change at run time)."""
    return os.environ.get("FOCUSCAM_THREADS", "").strip() != "1"


def _helper() -> _Helper:
    global _HELPER
    helper = _HELPER
    if helper is None:
        with _START:
            if _HELPER is None:
                _HELPER = _Helper()
            helper = _HELPER
    return helper


def band_count(rows: int, row_bytes: int) -> int:
    """Bands for ``rows`` rows of ``row_bytes`` bytes of pixels each: 0 when not worth sharing."""
    work = rows * row_bytes
    if work < MIN_WORK or rows < 8 or not enabled():
        return 0
    return max(4, min(MAX_BANDS, rows // 2, -(-work // BAND_WORK)))


def shared(fn, y0: int, rows: int, nbands: int) -> list:
    """The sums of ``fn(r0, r1)`` (a sequence of ints per band of rows) over ``nbands`` bands
    of rows ``y0 .. y0 + rows - 1``, computed by this thread and the helper.

    ``fn`` must be a pure function of its rows that keeps its buffers per thread.
    """
    edges = [y0 + rows * i // nbands for i in range(nbands + 1)]
    job = _Job(fn, edges)
    _helper().jobs.put(job)
    t0 = time.perf_counter()
    mine = job.work()
    patience = (time.perf_counter() - t0) / max(mine, 1)  # one of this thread's bands
    results = job.results
    for b in range(nbands):
        r = results[b]
        if r is None:
            deadline = time.perf_counter() + patience
            while r is None and time.perf_counter() < deadline:
                time.sleep(0)  # lets the helper take the GIL to hand its band over
                r = results[b]
            if r is None:  # the helper is held up: this thread does the band again
                r = fn(edges[b], edges[b + 1])
        results[b] = r
    job.fn = None  # a job still queued for a starved helper must not keep the frame alive
    return [sum(col) for col in zip(*results, strict=True)]
