"""Background threads that a Ctrl-C in the main thread cannot orphan.

On CPython 3.11 (seen here; CPython issue gh-90882, "Thread spuriously marked dead after
interrupting a join call"), a ``KeyboardInterrupt`` that lands inside ``Thread.join(timeout)``
can leave a thread that is still running marked as finished: every later ``join()`` returns at once,
the interpreter then shuts down under the running thread, and a thread caught inside OpenCV's
C++ code aborts the whole process ("terminate called without an active exception", exit -6)
instead of exiting 130 after a clean stop.

:class:`Worker` records the end of its target in an :class:`threading.Event`. Waiting on an
Event is safe to interrupt, so :meth:`Worker.wait` is what the main thread uses, in a loop or
with a timeout; ``join()`` is called only once the target has returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Worker(threading.Thread):
    """A daemon thread whose end can be waited for safely from a Ctrl-C-able thread.

    Parameters
    ----------
    target : callable
        What the thread runs.
    name : str
        Thread name (shown in debuggers and thread dumps).
    args : tuple, optional
        Positional arguments for ``target``.
    """

    def __init__(self, target: Callable[..., Any], name: str, args: tuple = ()) -> None:
        super().__init__(target=target, args=args, name=name, daemon=True)
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.finished.set()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the target has returned (or raised)."""
        return self.is_alive() and not self.finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the target to return; True when it has (or the thread was never started).

        Interrupting this (Ctrl-C) leaves the thread's state intact: a later call waits again.
        """
        if self.ident is None:
            return True
        if not self.finished.wait(timeout):
            return False
        self.join()  # the target has returned: only the thread's own teardown is left
        return True
