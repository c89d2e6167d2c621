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

__all__ = ["autofocus_window", "monitor_window"]


class _FrameTap:
    """Keeps the newest frame the engine read (for the window, snapshots and recording).

    The engines' samples and events carry no pixels, so the tap wraps the frame-returning
    methods (``read``, ``fresh_frame``) of this one source instance; frames pass through
    unchanged.
    """

    def __init__(self, source: Any, state: UiState, actions: EngineActions) -> None:
        self.latest: Any = None
        self._lock = threading.Lock()
        self._state, self._actions = state, actions
        for name in ("read", "fresh_frame"):
            method = getattr(source, name, None)
            if method is not None:
                setattr(source, name, self._wrap(method))

    def _wrap(self, method: Any) -> Any:
        def tapped(*args: Any, **kwargs: Any) -> Any:
            frame = method(*args, **kwargs)
            self._see(frame)
            return frame

        return tapped

    def _see(self, frame: Any) -> None:
        with self._lock:
            self.latest = frame
        self._state.push_frame(frame)
        self._actions.record(frame)

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


def autofocus_window(
    af: Any,
    args: argparse.Namespace,
    *,
    stream: Any = None,
    close_when_done: bool = False,
    on_render: Any = None,
) -> Any:
    """Run an :class:`~focuscam.autofocus.Autofocus` with the live window; return its result.

    The run starts at once on a worker thread; the window shows the frames it scores, the focus
    curve growing sample by sample and the chosen peak, then stays open on the result until
    ``q``/Esc (``a`` runs again, ``+``/``-`` jog the drive, ``s`` snapshot, ``r`` record).
    Without a display it prints one message and runs headless (``af.run()``).

    Parameters
    ----------
    af : Autofocus
        Built by ``focuscam autofocus``; its ``on_event`` is chained to the window's.
    args : argparse.Namespace
        The command line (``--jog`` in um when present, default 10).
    stream : file, optional
        Where the one headless message goes (default stderr).
    close_when_done : bool
        Close the window as soon as the first run has finished (scripts, demos, tests).
    on_render : callable, optional
        Passed to :func:`~focuscam.ui.window.run_window` (``on_render(canvas)`` per redraw).

    Returns
    -------
    AutofocusResult
        The result of the last completed run.

    Raises
    ------
    Aborted
        The window was closed before any run completed (the drive was stopped).
    """
    from ..errors import Aborted

    stream = sys.stderr if stream is None else stream
    ok, reason = display_available()
    if not ok:
        print(f"focuscam: {reason}; running headless (pass --no-window to skip the window)", file=stream)
        return af.run()

    results: list[Any] = []

    def run_once() -> Any:
        result = af.run()
        results.append(result)
        return result

    actions = EngineActions(
        drive=af.drive,
        jog_um=float(getattr(args, "jog", None) or 10.0),
        measure=af.measure_name,
        on_measure=lambda name: setattr(af, "measure_name", name),
        on_roi=lambda roi: setattr(af, "roi", roi),
        autofocus=run_once,
        lock=af.start_lock,  # `l`: hold focus on a background thread (needs a focused run first)
        unlock=af.unlock,
        is_locked=lambda: af.focus_lock.running,
        jog=af.jog,  # as the drive's owner: a running lock pauses for the jog
        start_recording=_recording_factory(Path.cwd()),
        snapshot_dir=Path.cwd(),
        close_drive=False,  # the command closes its drive and source
    )
    state = UiState(actions, roi=af.roi, z_unit=af.z_unit)  # a twin shows its stack's unit
    actions.bind(state)
    tap = _FrameTap(af.source, state, actions)
    actions.latest_frame = tap
    previous = af.on_event

    def on_event(kind: str, data: dict[str, Any]) -> None:
        state.on_autofocus_event(kind, data)
        if previous is not None:
            previous(kind, data)

    af.on_event = on_event
    drawn_after_done = {"n": 0}

    def rendered(canvas: Any) -> None:
        if results and not actions.busy:
            drawn_after_done["n"] += 1  # the result (peak marked) has been drawn
        if on_render is not None:
            on_render(canvas)

    def done() -> bool:
        return bool(results) and not actions.busy and drawn_after_done["n"] >= 2

    state.notify(actions.autofocus())
    try:
        shown = run_window(
            state,
            title="focuscam autofocus",
            check_display=False,
            stream=stream,
            should_stop=done if close_when_done else None,
            on_render=rendered,
        )
        if not shown:
            actions.wait()
    finally:
        actions.quit()  # stops the drive (aborting a run in progress), closes a recording
    if not results:
        raise Aborted("the window was closed before the autofocus finished; the drive was stopped")
    return results[-1]
