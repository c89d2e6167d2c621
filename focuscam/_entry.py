"""The ``focuscam`` command's entry point: Ctrl-C at any moment exits 130 with one line.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread happens to be; during
start-up (importing the CLI, numba, OpenCV) nothing catches it, so it printed a traceback and
exited -2 or 1. :func:`run` installs, first thing, a SIGINT handler that writes one line and
exits 130 at once; :func:`focuscam.cli.main` hands SIGINT back to ``KeyboardInterrupt`` (so
commands stop their drives and close their files) only inside its own ``try``, and takes it
again once a first Ctrl-C is being handled. At the end, when threads still run (a camera
grabber inside OpenCV) or after a Ctrl-C, the process leaves with ``os._exit`` after flushing
its output: letting the interpreter finalise under running threads aborted it ("terminate
called without an active exception", exit 134), and CPython turns a handled interrupt that
passed through C code back into a death by SIGINT (exit -2).

``FOCUSCAM_STARTUP_FLAG=PATH`` (for tests) creates PATH at each start-up checkpoint, and with
``FOCUSCAM_STARTUP_PAUSE=STAGE`` the process waits at that checkpoint for a signal, so a test
can interrupt each stage of start-up deterministically.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading

__all__ = ["BLAS_THREADS", "checkpoint", "exit_now", "run", "single_threaded_blas"]

INTERRUPTED = 130


def exit_now(signum: int = signal.SIGINT, frame: object = None) -> None:
    """A SIGINT handler: one line, exit 130, nothing else runs."""
    try:
        os.write(2, b"focuscam: interrupted\n")
    finally:
        os._exit(INTERRUPTED)


def checkpoint(stage: str) -> None:
    """A named moment of start-up; see the module docstring (does nothing unless asked)."""
    flag = os.environ.get("FOCUSCAM_STARTUP_FLAG")
    if not flag:
        return
    with open(f"{flag}.{stage}", "w"):
        pass
    if os.environ.get("FOCUSCAM_STARTUP_PAUSE") == stage:
        while True:
            signal.pause()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _native_core_loaded() -> bool:
    mm = sys.modules.get("focuscam.mmcore")
    return bool(getattr(mm, "LOADED", False))


#: The thread-count variables of the BLAS libraries numpy may be built with (OpenBLAS, the
#: OpenMP runtime of MKL or BLIS).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> None:
    """One BLAS thread for the command's processes, unless the user set a count of their own.

    Before numpy is imported: its OpenBLAS otherwise starts a thread per core at import, whose
    start and spinning cost a short command such as ``focuscam select`` about 0.1-0.15 s of
    CPU on a 2-core machine (0.55 -> 0.38 s), and after each BLAS call those threads spin on
    the cores the capture and scoring threads need. focuscam's linear algebra is a few small
    least-squares fits (peak models, focal planes), far too small to gain from BLAS threads.
    Child processes (``select --workers``) inherit the setting. A variable already set,
    to any value, is left alone.
    """
    if any(name in os.environ for name in BLAS_THREADS):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


def run() -> None:
    """Run the ``focuscam`` command (the console script and ``python -m focuscam``)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, exit_now)
    checkpoint("entry")
    single_threaded_blas()
    from .cli import main

    code = main()
    signal.signal(signal.SIGINT, exit_now)
    _flush()
    if code == INTERRUPTED or threading.active_count() > 1 or _native_core_loaded():
        # Not sys.exit: finalising the interpreter under running threads aborts it, and after a
        # KeyboardInterrupt that left C code (an import inside numba or OpenCV) CPython re-raises
        # SIGINT at exit (exit -2) although the interrupt was handled. Micro-Manager's C++ core
        # (unloaded by now) aborted 1 exit in 3 in its static teardown ("exception not
        # rethrown", exit 134) with OpenCV and numba loaded.
        os._exit(code)
    # The objects still alive (numba's typing and lowering registries, OpenCV, numpy: some
    # 100,000 after a kernel has loaded) go to the permanent generation: the interpreter's
    # collections while it finalises would traverse them all, which cost a short command such
    # as `focuscam select` 0.15-0.25 s of CPU. Nothing is skipped that exit relied on: files
    # are closed and atexit handlers run as before.
    gc.freeze()
    sys.exit(code)
