"""Wiring of the live window to the engines: the hooks the CLI commands call.

:func:`monitor_window` is the hook of ``focuscam monitor`` (without ``--no-window``): it takes a
:class:`focuscam.monitor.Monitor` that is built but not started, shows the window while the
monitor runs, and falls back to the headless loop (one message) when there is no display.

Keys in the monitor window: ``m`` next measure, ``g`` grid on/off, ``r`` start/stop recording
(to ``./recording-YYYYmmdd-HHMMSS``), ``s`` snapshot (PNG in the working folder), mouse ROI;
``q``/Esc quits. The monitor moves no drive, so its legend shows no ``a``, ``l`` or ``+``/``-``
(pressed anyway, they say to use ``focuscam autofocus``, whose window has them).

In the autofocus window each run (the first, and every ``a``) with ``--record DIR`` records
into its own subfolder ``DIR/run-001``, ``DIR/run-002``, ... (``X.ome.tif``:
``X-run-001.ome.tif``, ...), named in the window's message.
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

__all__ = ["autofocus_window", "monitor_window", "run_record_path"]

#: What ``a``, ``l`` and ``+``/``-`` answer in the monitor window (it moves no drive).
NO_DRIVE_HINT = "the monitor moves no drive: run focuscam autofocus --source ... --drive SPEC for a, l, +/-"


def run_record_path(base: str | Path, used: int = 0) -> tuple[int, Path]:
    """Where autofocus run ``used + 1`` (or the next free one) of ``--record base`` records.

    A folder ``base`` gets one subfolder per run, ``base/run-001``, ``base/run-002``, ...; an
    OME-TIFF ``X.ome.tif`` gets ``X-run-001.ome.tif``, ... Numbers already taken (an earlier
    session's runs) are skipped, so no run ever meets an existing recording. Returns the run's
    number and its path.
    """
    base = Path(base)
    n = int(used)
    while True:
        n += 1
        if base.name.lower().endswith(".ome.tif"):
            stem = base.name[: -len(".ome.tif")]
            path = base.with_name(f"{stem}-run-{n:03d}.ome.tif")
        else:
            path = base / f"run-{n:03d}"
        if not path.exists():
            return n, path


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


def _show_first_frame(source: Any, state: UiState) -> None:
    """Put the source's current frame in the window before anything runs (no black window)."""
    from ..errors import FocuscamError

    try:
        frame = source.read(timeout=2.0)
    except FocuscamError:
        return  # no frame now: the window says it is waiting for frames
    state.push_frame(frame)


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
        no_drive_hint=NO_DRIVE_HINT,
    )
    actions.grid = monitor.grid is not None
    state = UiState(
        actions,
        roi=monitor.roi,
        show_grid=monitor.grid is not None,
        curve_note="no z: the monitor moves no focus, so it draws no focus curve (autofocus does)",
    )
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
    record_base = getattr(af, "record", None)
    runs = {"n": 0}

    def next_record() -> str | None:
        """Each run records into its own subfolder of ``--record DIR`` (run-001, run-002, ...)."""
        if record_base is None:
            return None
        runs["n"], path = run_record_path(record_base, runs["n"])
        af.record = path
        if getattr(args, "record", None) is not None:
            args.record = str(path)  # the command's report names the last run's recording
        return f"recording to {path}"

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
        before_autofocus=next_record,
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
    renders = {"n": 0}

    def rendered(canvas: Any) -> None:
        renders["n"] += 1
        if renders["n"] == 2:
            # the first frame has been drawn and painted (one waitKey ran): only now start the
            # run, whose first kernel calls may hold the interpreter for a while (JIT compile)
            state.notify(actions.autofocus())
        if results and not actions.busy:
            drawn_after_done["n"] += 1  # the result (peak marked) has been drawn
        if on_render is not None:
            on_render(canvas)

    def done() -> bool:
        return bool(results) and not actions.busy and drawn_after_done["n"] >= 2

    _show_first_frame(af.source, state)
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
            state.notify(actions.autofocus())
            actions.wait()
    finally:
        actions.quit()  # stops the drive (aborting a run in progress), closes a recording
    if not results:
        raise Aborted("the window was closed before the autofocus finished; the drive was stopped")
    return results[-1]
