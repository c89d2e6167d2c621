"""Wiring of the live window to the engines: the hooks the CLI commands call.

:func:`monitor_window` is the hook of ``focuscam monitor`` (without ``--no-window``): it takes a
:class:`focuscam.monitor.Monitor` that is built but not started, shows the window while the
monitor runs, and falls back to the headless loop (one message) when there is no display.

Keys in the monitor window: ``m`` next measure, ``g`` grid on/off, ``r`` start/stop recording
(to ``./recording-YYYYmmdd-HHMMSS``), ``s`` snapshot (PNG in the working folder), mouse ROI;
``a``, ``l`` and ``+``/``-`` need a drive and say so; ``q``/Esc quits.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .actions import EngineActions
from .state import UiState
from .window import display_available, run_window

__all__ = ["monitor_window"]


class _FrameTap:
    """Keeps the newest frame the monitor read (for the window, snapshots and recording).

    The monitor's samples carry no pixels, so the tap wraps the source's ``read`` on this one
    instance; frames pass through unchanged.
    """

    def __init__(self, source: Any, state: UiState, actions: EngineActions) -> None:
        self.latest: Any = None
        self._lock = threading.Lock()
        read = source.read

        def tapped_read(timeout: float | None = None) -> Any:
            frame = read(timeout)
            with self._lock:
                self.latest = frame
            state.push_frame(frame)
            actions.record(frame)
            return frame

        source.read = tapped_read

    def __call__(self) -> Any:
        with self._lock:
            return self.latest


def _recording_factory(folder: Path):
    def start() -> Any:
        from ..stacks import StackWriter

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = folder / f"recording-{stamp}"
        n = 1
        while path.exists():
            path = folder / f"recording-{stamp}_{n}"
            n += 1
        return StackWriter(path, name=path.name, kind="sequence", description="recorded from the live window")

    return start


def monitor_window(monitor: Any, args: argparse.Namespace, *, stream: Any = None) -> int:
    """Run a not-yet-started :class:`~focuscam.monitor.Monitor` with the live window.

    Parameters
    ----------
    monitor : Monitor
        Built by ``focuscam monitor`` (callbacks such as ``--json`` output already subscribed),
        not started.
    args : argparse.Namespace
        The command line; ``frames``/``seconds`` (when set) close the window when the monitor
        ends, otherwise the window stays open on the last frame until ``q``.
    stream : file, optional
        Where the one headless message goes (default stderr).

    Returns
    -------
    int
        The exit code (0). Errors of the monitor are raised (after the window closed).
    """
    stream = sys.stderr if stream is None else stream
    ok, reason = display_available()
    if not ok:
        print(f"focuscam: {reason}; running headless (pass --no-window to skip the window)", file=stream)
        monitor.start()
        while not monitor.wait(0.2):
            pass
        return 0

    grid = monitor.grid or (3, 3)
    actions = EngineActions(
        measure=monitor.measure,
        on_measure=lambda name: setattr(monitor, "measure", name),
        on_roi=lambda roi: setattr(monitor, "roi", roi),
        on_grid=lambda on: setattr(monitor, "grid", grid if on else None),
        start_recording=_recording_factory(Path.cwd()),
        snapshot_dir=Path.cwd(),
        on_quit=monitor.stop,
    )
    actions.grid = monitor.grid is not None
    state = UiState(actions, roi=monitor.roi, show_grid=monitor.grid is not None)
    actions.bind(state)
    tap = _FrameTap(monitor.source, state, actions)
    actions.latest_frame = tap
    monitor.subscribe(state.push_sample)
    bounded = getattr(args, "frames", None) is not None or getattr(args, "seconds", None) is not None
    told = {"ended": False}

    def should_stop() -> bool:
        if monitor.running:
            return False
        if bounded or monitor.error is not None:
            return True
        if not told["ended"]:
            told["ended"] = True
            state.notify(f"stream ended ({monitor.reason or 'stopped'}): press q to close")
        return False

    monitor.start()
    try:
        if not run_window(
            state, title="focuscam monitor", should_stop=should_stop, check_display=False, stream=stream
        ):
            while not monitor.wait(0.2):  # the window could not be created: headless
                pass
    finally:
        actions.quit()  # closes a recording, stops the monitor (idempotent)
    monitor.wait()  # raises the monitor's error, if any
    return 0
