"""A ready-made :class:`~focuscam.ui.state.UiActions` adapter over the engine's real parts.

The window's keys only *delegate*: nothing here measures, searches or plans a move. Every part
is optional; a key whose part is missing answers with a message instead of doing nothing
silently. Drive work (jogs, an autofocus run) runs one job at a time on a worker thread so the
window stays responsive; its errors are shown in the window.

Example (a monitor with a drive)::

    actions = EngineActions(
        drive=drive, jog_um=10.0,
        measures=list(MEASURES), measure="lapv", on_measure=engine.set_measure,
        on_roi=engine.set_roi, on_grid=engine.set_grid,
        autofocus=lambda: controller.run(),             # blocking; runs on the worker
        lock=controller.lock, unlock=controller.unlock,
        start_recording=lambda: StackWriter(out_dir, name="live"),
        latest_frame=engine.latest_frame, snapshot_dir=".",
        on_quit=engine.stop,
    )
    state = UiState(actions, roi=roi)
    actions.bind(state)                                 # messages and flags go to the window
    engine.on_sample = lambda s: (state.push_sample(s), actions.record(s.frame))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._threads import Worker
from ..errors import FocuscamError, InputError
from ..types import ROI
from .recording import RecordingActions

__all__ = ["EngineActions"]


class EngineActions(RecordingActions):
    """Delegate the window's keys to engine parts.

    Recording (``r``) and snapshots (``s``) come from
    :class:`~focuscam.ui.recording.RecordingActions`.

    Parameters
    ----------
    drive : FocusDrive, optional
        Jogged by ``+``/``-``; stopped (and closed when ``close_drive``) on quit.
    jog_um : float
        Jog step in um (> 0).
    measures : sequence of str
        Names ``m`` cycles through (default: ``focuscam.measures.MEASURES``).
    measure : str, optional
        The measure in use now (default: the first of ``measures``).
    on_measure, on_roi, on_grid : callable, optional
        Told the new measure name, the new ROI (frame pixels, or None = whole frame), the grid
        on/off.
    autofocus : callable, optional
        Runs one autofocus (blocking; called on the worker thread).
    before_autofocus : callable, optional
        Called on the window's thread before each run starts (e.g. choose the run's recording
        folder); the text it returns is added to the "autofocus started" message.
    lock, unlock : callable, optional
        Start and stop the focus lock.
    is_locked : callable, optional
        Whether the focus lock runs now (it may end by itself, e.g. after a failed search).
    jog : callable, optional
        ``jog(dz_um) -> z_um``: a relative move as the drive's owner (the controller's
        :meth:`~focuscam.autofocus.Autofocus.jog`: a running lock pauses first). Default: a
        claim on the drive's :class:`~focuscam.ownership.DriveOwner`, then ``move_by``.
    start_recording : callable, optional
        Returns a writer with ``append(pixels, z=, t=)`` and ``close()`` (a StackWriter).
    latest_frame : callable, optional
        Returns the newest frame (a Frame or its pixels) for snapshots.
    snapshot_dir : str or Path
        Where ``s`` writes PNG snapshots (16-bit frames stay 16-bit).
    on_quit : callable, optional
        Called on quit after the drive is stopped and the recording closed (stop the engine).
    close_drive : bool
        Close the drive on quit (default True).
    no_drive_hint : str, optional
        What ``a``, ``l`` and ``+``/``-`` answer when this window has no drive (default: start
        with ``--drive``); a command that takes no drive says where to go instead.
    """

    def __init__(
        self,
        *,
        drive: Any = None,
        jog_um: float = 10.0,
        measures: Sequence[str] | None = None,
        measure: str | None = None,
        on_measure: Callable[[str], Any] | None = None,
        on_roi: Callable[[ROI | None], Any] | None = None,
        on_grid: Callable[[bool], Any] | None = None,
        autofocus: Callable[[], Any] | None = None,
        before_autofocus: Callable[[], str | None] | None = None,
        lock: Callable[[], Any] | None = None,
        unlock: Callable[[], Any] | None = None,
        is_locked: Callable[[], bool] | None = None,
        jog: Callable[[float], Any] | None = None,
        start_recording: Callable[[], Any] | None = None,
        latest_frame: Callable[[], Any] | None = None,
        snapshot_dir: str | Path = ".",
        on_quit: Callable[[], Any] | None = None,
        close_drive: bool = True,
        no_drive_hint: str | None = None,
    ) -> None:
        if isinstance(jog_um, bool) or not isinstance(jog_um, int | float) or not jog_um > 0:
            raise InputError(f"jog_um {jog_um!r} is not a positive number: give the jog step in um, e.g. 10")
        if measures is None:
            from ..measures import MEASURES

            measures = list(MEASURES)
        self.measures = list(measures)
        if measure is not None and measure not in self.measures:
            raise InputError(f"measure {measure!r} is not one of {', '.join(self.measures)}")
        self.measure = measure if measure is not None else (self.measures[0] if self.measures else None)
        self.drive = drive
        self.jog_um = float(jog_um)
        self.grid = False
        self._locked = False
        self._is_locked = is_locked
        self._jog = jog
        self.roi: ROI | None = None
        self.quitted = False
        self._on_measure, self._on_roi, self._on_grid = on_measure, on_roi, on_grid
        self._autofocus, self._lock, self._unlock = autofocus, lock, unlock
        self._before_autofocus = before_autofocus
        self._init_recording(start_recording, latest_frame, snapshot_dir)
        self._on_quit = on_quit
        self._close_drive = close_drive
        self._no_drive_hint = no_drive_hint
        self._worker: Worker | None = None
        self._notify: Callable[[str], Any] = lambda msg: None
        self._status: Callable[..., Any] = lambda **kw: None

    @property
    def locked(self) -> bool:
        """True while the focus lock runs (as the controller says, when it can tell)."""
        if self._is_locked is not None:
            return bool(self._is_locked())
        return self._locked

    @locked.setter
    def locked(self, value: bool) -> None:
        self._locked = bool(value)

    def bind(self, state: Any) -> None:
        """Send worker messages and lock/recording flags to a :class:`UiState`."""
        self._notify = state.notify
        self._status = state.set_status

    def keys(self) -> str:
        """The keys that do something here (the window's legend shows only these).

        ``a`` needs an autofocus, ``l`` a lock, ``+``/``-`` a drive, ``r`` a recorder and ``s``
        a frame source; ``m``, ``g`` and ``q`` always work.
        """
        parts = [
            ("a", self._autofocus is not None),
            ("l", self._lock is not None),
            ("m", True),
            ("g", True),
            ("r", self._start_recording is not None),
            ("s", self.latest_frame is not None),
            ("+", self.drive is not None or self._jog is not None),
            ("q", True),
        ]
        return "".join(key for key, works in parts if works)

    # ------------------------------------------------------------------ worker
    @property
    def busy(self) -> bool:
        """True while a jog or an autofocus runs on the worker thread."""
        return self._worker is not None and self._worker.running

    def _start(self, name: str, job: Callable[[], Any], done: Callable[[Any], str | None]) -> None:
        if self.busy:
            raise InputError(f"the drive is busy: wait for the running job to finish before {name}")

        def run() -> None:
            try:
                out = job()
            except FocuscamError as exc:
                self._notify(f"{name}: {exc}")
            else:
                msg = done(out)
                if msg:
                    self._notify(msg)

        self._worker = Worker(run, f"focuscam-ui-{name}")
        self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker's job; True when none is running any more."""
        worker = self._worker
        return worker is None or worker.wait(timeout)

    # ------------------------------------------------------------------ UiActions
    def autofocus(self) -> str | None:
        if self._autofocus is None:
            return self._no_drive_hint or "autofocus needs a drive: start with --drive (e.g. --drive sim)"
        if self.busy:
            raise InputError("the drive is busy: wait for the running job to finish before autofocus")
        note = self._before_autofocus() if self._before_autofocus is not None else None
        self._start("autofocus", self._autofocus, lambda result: _result_text(result))
        return "autofocus started" + (f": {note}" if note else "")

    def toggle_lock(self) -> str | None:
        if self._lock is None:
            if self.drive is None:
                return self._no_drive_hint or "focus lock needs a drive: start with --drive"
            return "focus lock is not available in this command"
        if self.locked:
            if self._unlock is not None:
                self._unlock()
            self.locked = False
        else:
            self._lock()
            self.locked = True
        locked = self.locked
        self._status(locked=locked)
        return "focus locked" if locked else "focus unlocked"

    def next_measure(self) -> str | None:
        if not self.measures:
            return "no measures to switch between"
        i = self.measures.index(self.measure) if self.measure in self.measures else -1
        self.measure = self.measures[(i + 1) % len(self.measures)]
        if self._on_measure is not None:
            self._on_measure(self.measure)
        return f"measure: {self.measure}"

    def toggle_grid(self) -> str | None:
        self.grid = not self.grid
        if self._on_grid is not None:
            self._on_grid(self.grid)
        return f"grid {'on' if self.grid else 'off'}"

    def jog(self, direction: int) -> str | None:
        if self.drive is None:
            return self._no_drive_hint or "jogging needs a drive: start with --drive"
        if direction not in (-1, 1):
            raise InputError(f"jog direction {direction!r} is not +1 or -1")
        dz = direction * self.jog_um
        if not self.busy:
            self.drive.plan(self.drive.position + dz)  # LimitError now, before anything is sent
        self._start("jog", lambda: self._owned_jog(dz), lambda z: f"z = {z:.2f} um")
        return None

    def _owned_jog(self, dz: float) -> Any:
        """A jog as the drive's owner: never beside a search or a lock that moves the stage."""
        if self._jog is not None:
            return self._jog(dz)
        from ..ownership import DriveOwner

        with DriveOwner.of(self.drive).claim("jog"):
            return self.drive.move_by(dz)

    def set_roi(self, roi: ROI | None) -> str | None:
        self.roi = roi
        if self._on_roi is not None:
            self._on_roi(roi)
        return "ROI: whole frame" if roi is None else f"ROI: {roi.x},{roi.y},{roi.w},{roi.h}"

    def quit(self) -> str | None:
        """Stop the drive, finish the worker, close the recording, stop the engine, close the drive."""
        if self.quitted:
            return None
        self.quitted = True
        try:
            if self.drive is not None:
                self.drive.stop()
            self.wait(10.0)
            self._close_recording()
            if self._on_quit is not None:
                self._on_quit()
        finally:
            if self.drive is not None and self._close_drive:
                self.drive.close()
        return None


def _result_text(result: Any) -> str:
    state = getattr(result, "state", None)
    z = getattr(result, "z", None)
    if state is None:
        return "autofocus finished"
    where = f" at z = {z:.2f} um" if isinstance(z, int | float) else ""
    return re.sub(r"\s+", " ", f"autofocus {state}{where}")
