"""Who controls the microscope: one web client at a time; every other client watches.

A client takes control with its first request that acts (autofocus, move, lock, ROI, ...) when
nobody holds it, and keeps it until it releases it, or until its page has been closed (its
events stream ended) and it has asked nothing for :data:`CONTROL_TIMEOUT_S` while nothing runs
on the drive. A request of another client meanwhile is refused (409) with the holder's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..errors import ConflictError

__all__ = ["CONTROL_TIMEOUT_S", "Client", "ControlDesk"]

#: Seconds a controlling client keeps control after its last request when no page of it is open.
CONTROL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Client:
    """Who sent a request: an id (the page's, or the peer address) and a name shown to others."""

    id: str
    name: str


class ControlDesk:
    """The controlling client, the clients' last requests and their open pages.

    Parameters
    ----------
    busy : callable
        ``busy() -> bool``: something runs on the drive (a holder keeps control while it does).
    changed : callable
        Called after the holder changed (publishes the new state).
    """

    def __init__(self, busy: Callable[[], bool], changed: Callable[[], Any]) -> None:
        self._busy = busy
        self._changed = changed
        self._lock = threading.RLock()
        self._holder: Client | None = None
        self.since = ""
        self._seen: dict[str, float] = {}
        self._present: dict[str, int] = {}

    def seen(self, client: Client) -> None:
        """A request of ``client`` arrived (keeps its control alive)."""
        self._seen[client.id] = time.monotonic()

    def connected(self, client: Client, delta: int) -> None:
        """A page of ``client`` opened (+1) or closed (-1) its events stream."""
        with self._lock:
            n = self._present.get(client.id, 0) + delta
            if n > 0:
                self._present[client.id] = n
            else:
                self._present.pop(client.id, None)
            self.seen(client)
        self._changed()

    @property
    def watchers(self) -> int:
        """Open pages (events streams) of every client."""
        return sum(self._present.values())

    @property
    def holder(self) -> Client | None:
        """The client in control now, or None."""
        with self._lock:
            c = self._holder
            if c is None:
                return None
            idle = time.monotonic() - self._seen.get(c.id, 0.0)
            if c.id not in self._present and idle > CONTROL_TIMEOUT_S and not self._busy():
                self._holder = None  # gone: its page closed and it has not asked anything for a while
                self._changed()
                return None
            return c

    def claim(self, client: Client) -> None:
        """Take control for ``client``, or refuse (409) when another client holds it."""
        with self._lock:
            holder = self.holder
            if holder is not None and holder.id != client.id:
                raise ConflictError(
                    f"{holder.name} controls the microscope since {self.since}: watch, or ask them to "
                    "release control"
                )
            if holder is None:
                self._holder = client
                self.since = datetime.now(timezone.utc).isoformat(timespec="seconds")
                self._changed()

    def release(self, client: Client) -> None:
        """Give up control (409 when another client holds it)."""
        with self._lock:
            holder = self.holder
            if holder is not None and holder.id != client.id:
                raise ConflictError(f"{holder.name} controls the microscope, not you: nothing to release")
            self._holder = None
            self._changed()

    def to_json(self) -> dict[str, str] | None:
        """``{"client", "name", "since"}`` of the holder, or None."""
        c = self._holder
        return None if c is None else {"client": c.id, "name": c.name, "since": self.since}
