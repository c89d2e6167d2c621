"""A tiny progress bar for long CLI work (sweeps, recording, evaluate, bench).

It draws on stderr only when stderr is a terminal and the command does not print JSON, so
piped output, logs and ``--json`` stay clean::

    with Progress(total=len(stacks), label="evaluate", enabled=not args.json) as bar:
        for stack in stacks:
            ...
            bar.advance()

``total=None`` shows a counter instead of a bar (e.g. a recording without ``--frames``). Both
show the elapsed time and the rate (units done per second).
Redraws are throttled (at most every ``min_interval`` seconds of ``time.monotonic()``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..errors import InputError

__all__ = ["Progress", "progress_enabled"]


def progress_enabled(stream: TextIO | None = None, *, json_output: bool = False) -> bool:
    """True when a bar may be drawn: ``stream`` (default stderr) is a TTY and no JSON is printed."""
    stream = sys.stderr if stream is None else stream
    if json_output:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Progress:
    """A one-line progress bar on a terminal; silent elsewhere.

    Parameters
    ----------
    total : int or None
        The number of units of work; ``None`` for an open-ended count.
    label : str
        A short word shown before the bar.
    enabled : bool or None
        ``False`` forces silence (pass ``not args.json``); ``None``/``True`` still require a TTY.
    stream : file or None
        Where to draw (default ``sys.stderr``).
    width : int
        Bar width in characters.
    min_interval : float
        Minimum seconds between redraws.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        label: str = "",
        enabled: bool | None = None,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise InputError(f"total {total!r} is not a count: give an integer >= 0 or None")
        self.stream = sys.stderr if stream is None else stream
        self.total = total
        self.label = label
        self.width = max(5, int(width))
        self.min_interval = float(min_interval)
        self.done = 0
        self.active = enabled is not False and progress_enabled(self.stream)
        self._t0 = time.monotonic()
        self._last_draw = -float("inf")
        self._drawn = False

    def advance(self, n: int = 1, *, note: str = "") -> None:
        """Count ``n`` more units done and redraw (throttled)."""
        self.done += n
        self._draw(note, force=self.total is not None and self.done >= self.total)

    def update(self, done: int, *, note: str = "") -> None:
        """Set the number of units done and redraw (throttled)."""
        self.done = done
        self._draw(note, force=self.total is not None and self.done >= self.total)

    def line(self, note: str = "") -> str:
        """The text of the bar as it would be drawn now (without the carriage return)."""
        elapsed = time.monotonic() - self._t0
        head = f"{self.label} " if self.label else ""
        rate = f" {self.done / elapsed:.3g}/s" if self.done > 0 and elapsed > 0 else ""
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = round(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"{head}[{bar}] {self.done}/{self.total} {elapsed:5.1f}s{rate}"
        else:
            text = f"{head}{self.done} {elapsed:5.1f}s{rate}"
        return f"{text} {note}".rstrip()

    def _draw(self, note: str = "", *, force: bool = False) -> None:
        if not self.active:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        self.stream.write("\r\x1b[K" + self.line(note))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the bar's line (so the next output starts on a clean line)."""
        if self.active and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self._drawn = False

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
