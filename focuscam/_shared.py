"""Devices opened once per process and shared by their users (a Micro-Manager core, a Pi camera).

:class:`SharedDevices` opens a device on its first :meth:`~SharedDevices.acquire` for a key,
hands every user the same object and a ``release()`` of its own (idempotent), and closes the
device when the last user has released it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["SharedDevices"]


class SharedDevices:
    """A reference-counted registry of open devices, keyed by what opened them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, list[Any]] = {}  # key -> [device, users]

    def acquire(
        self,
        key: Hashable,
        open_device: Callable[[], Any],
        close_device: Callable[[Any], None],
        *,
        conflict: Callable[[Hashable], BaseException] | None = None,
    ) -> tuple[Any, Callable[[], None]]:
        """The device for ``key`` (opened now if nobody holds it) and this user's ``release()``.

        ``conflict(other_key)``, when given, is raised if another key is open (one device of
        this kind per process).
        """
        with self._lock:
            if conflict is not None:
                for other in self._entries:
                    if other != key:
                        raise conflict(other)
            entry = self._entries.get(key)
            if entry is None:
                entry = [open_device(), 0]
                self._entries[key] = entry
            entry[1] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                entry[1] -= 1
                if entry[1] > 0:
                    return
                if self._entries.get(key) is entry:
                    del self._entries[key]
            close_device(entry[0])

        return entry[0], release
