"""Waking the server's event loop from engine threads, once for everything that is due.

Every wake-up of an idle event loop costs a thread switch (on this project's 2-core VMs, about
0.1 ms of CPU: as much as writing a frame to a socket). The live view wakes the loop once per
captured frame; the events stream needs a write every few frames; uvicorn ticks on its own. A
:class:`LoopWaker` lets them share wake-ups: an engine thread's :meth:`LoopWaker.set` schedules at
most one call on the loop however many events it sets before the loop runs, and every wake-up
runs the loop's hooks, so that a stream whose batch is due is flushed by a wake-up that comes
anyway (see :class:`focuscam.web.stream.EventBus`).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable

__all__ = ["LoopWaker", "waker"]


class LoopWaker:
    """Sets asyncio events of one loop from any thread, with at most one call on its way to the loop.

    ``hooks`` are run on the loop after the events of each wake-up are set (added and removed on
    the loop only).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # weakly: the registry keeps wakers by loop weakly, and a closed loop must be freed
        self._loop = weakref.ref(loop)
        self.hooks: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._events: list[asyncio.Event] = []
        self._pending = False

    def set(self, event: asyncio.Event) -> None:
        """Set ``event`` on the loop soon; from any thread, never blocks on the loop.

        Raises RuntimeError when the loop is closed (as ``call_soon_threadsafe`` does).
        """
        with self._lock:
            self._events.append(event)
            if self._pending:
                return
            self._pending = True
        try:
            loop = self._loop()
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:
            with self._lock:
                self._pending = False
                self._events.clear()
            raise

    def _run(self) -> None:  # on the loop
        with self._lock:
            events, self._events = self._events, []
            self._pending = False
        for event in events:
            event.set()
        for hook in list(self.hooks):
            hook()


_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWaker] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def waker(loop: asyncio.AbstractEventLoop) -> LoopWaker:
    """The one :class:`LoopWaker` of ``loop`` (made on first use)."""
    with _LOCK:
        found = _WAKERS.get(loop)
        if found is None:
            found = _WAKERS[loop] = LoopWaker(loop)
        return found
