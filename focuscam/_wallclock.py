"""Wall-clock time, recorded once per recording or run (intervals use ``time.monotonic()``)."""

from __future__ import annotations

import datetime as _dt

__all__ = ["utc_now"]


def utc_now() -> str:
    """The current UTC time in ISO 8601 with a ``Z`` suffix, e.g. ``"2026-12-02T03:36:21.123Z"``."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
