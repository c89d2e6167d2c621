"""The drive's jobs under ``focuscam serve``: autofocus runs, moves, the focus lock and STOP.

:class:`DriveJobs` is the one thing that holds the drive (``owner``: ``search``, ``lock`` or
``move``) and the state the page shows of it (``state``, ``reason``, ``confidence``, ``phase``,
the last result). A run or a move goes on on a worker thread of its own, so that a route answers
at once; STOP is accepted from every client, always. Refusals are
:class:`~focuscam.errors.ConflictError` (409) or an :class:`~focuscam.errors.InputError` /
:class:`~focuscam.errors.LimitError` (422); a limit violation is refused before anything moves,
never clamped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._measure_choice import AUTO
from .._threads import Worker
from ..errors import Aborted, ConflictError, FocuscamError
from ..types import ROI
from .clients import Client
from .control import FocusController, model_curve
from .state import num

__all__ = ["DriveJobs"]

_SCANNING = {"searching": "searching", "verifying": "verifying", "retrying": "retrying"}


class DriveJobs:
    """Autofocus, move, lock, unlock and STOP on one drive (see the module docstring).

    Parameters
    ----------
    frames : FrameSource
        The frames the runs and the lock score (a hub tap).
    drive : FocusDrive or None
        The focus drive (um); None = watch only (every job is refused, 409).
    options : dict
        Fixed options of every run (``mode``, ``resolution_um`` on the twin).
    monitor : Monitor
        The live monitor: its ROI is an autofocus run's default.
    publish : callable
        ``publish(kind, data)``: the events stream.
    changed : callable
        Called after the state changed (publishes it).
    claim : callable
        ``claim(client)``: take control for ``client`` (409 when another client holds it).
    check_roi : callable
        ``check_roi(roi)``: raises InputError for an ROI the frame cannot be scored in.
    twin : TwinSource, optional
        The twin's source half: a result on the twin gives its truth and unit.
    measure : str
        The measure of a run that names none (:attr:`measure`): a name, or ``"auto"``.
    """

    def __init__(
        self,
        frames: Any,
        drive: Any,
        options: dict[str, Any],
        monitor: Any,
        *,
        publish: Callable[[str, dict], Any],
        changed: Callable[[], Any],
        claim: Callable[[Client], Any],
        check_roi: Callable[[ROI], Any],
        twin: Any = None,
        measure: str = AUTO,
    ) -> None:
        self.drive = drive
        #: The measure of a run that names none: ``"auto"`` (the mode's default measure, then
        #: the others when it finds no significant peak) until a measure is chosen.
        self.measure = measure
        self.controller: FocusController | None = None
        if drive is not None:
            self.controller = FocusController(frames, drive, self.on_event, **options)
        self.monitor, self.twin = monitor, twin
        self.publish = publish
        self._changed, self._claim, self._check_roi = changed, claim, check_roi
        #: Held by every change of the drive's owner (the engine's view settings share it).
        self.mutex = threading.RLock()
        self._job: Worker | None = None
        self.owner: str | None = None
        self.state = "idle"
        self.reason = ""
        self.confidence: float | None = None
        self.phase: str | None = None
        #: The last autofocus result, as ``focuscam autofocus --json`` prints it (+ ``model``).
        self.result: dict[str, Any] | None = None
        self._stopped_by: str | None = None

    # ------------------------------------------------------------------ helpers
    def _need_drive(self, what: str) -> FocusController:
        if self.controller is None:
            raise ConflictError(f"{what} needs a focus drive: start focuscam serve with --drive (e.g. sim)")
        return self.controller

    def _check_free(self, what: str) -> None:
        if self.owner == "lock":
            raise ConflictError(f"the focus lock holds the drive: unlock before {what}")
        if self.owner is not None:
            doing = "an autofocus run" if self.owner == "search" else "a move"
            raise ConflictError(f"{doing} holds the drive: wait for it or press STOP before {what}")

    def _start_job(self, owner: str, job: Callable[[], Any]) -> None:
        def body() -> None:
            try:
                job()
            except Aborted as exc:
                self._set(state="stopped", reason=f"{exc} (STOP by {self._stopped_by or 'the server'})")
            except FocuscamError as exc:
                self._fail(f"{owner}: {exc}")
            except Exception as exc:  # shown as one line; the server keeps serving
                self._fail(f"{owner}: {type(exc).__name__}: {exc}")
            finally:
                with self.mutex:
                    if self.owner == owner:
                        self.owner = None
                self._changed()

        self.owner = owner
        self._stopped_by = None
        self._job = Worker(body, f"focuscam-web-{owner}")
        self._job.start()

    def _fail(self, line: str) -> None:
        self._set(state="error", reason=line)
        self.publish("problem", {"error": line})

    def _set(self, *, emit: bool = True, **values: Any) -> None:
        with self.mutex:
            for key, value in values.items():
                setattr(self, key, value)
        if emit:
            self._changed()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running job (a run or a move) to end; True when none runs."""
        job = self._job
        return True if job is None else job.wait(timeout)

    # ------------------------------------------------------------------ jobs
    def autofocus(
        self,
        client: Client,
        *,
        strategy: str | None = None,
        range_um: tuple[float, float] | None = None,
        measure: str | None = None,
        roi: ROI | None = None,
    ) -> None:
        """Start an autofocus run (answers at once; the run goes on on the drive worker)."""
        ctl = self._need_drive("autofocus")
        with self.mutex:
            self._claim(client)
            self._check_free("autofocus")
            if roi is not None:
                self._check_roi(roi)
            af = ctl.prepare(
                strategy=strategy,
                range_um=range_um,
                measure=measure or self.measure,
                roi=roi if roi is not None else self.monitor.roi,
            )
            self._set(
                state="scanning", reason="autofocus started", confidence=None, phase="searching", emit=False
            )
            self.publish("curve_reset", {"strategy": af.strategy_name, "measure": af.measure_name})
            self._start_job("search", lambda: self._finish(ctl.run(af)))

    def _finish(self, result: Any) -> None:
        from ..cli.autofocus import result_json

        out = result_json(result, self.twin)
        out["model"] = model_curve(result.samples, result.target_z)
        self.result = out
        self._set(state=result.state, reason=result.reason, confidence=result.confidence, phase=None)
        self.publish("result", out)

    def move(self, client: Client, *, z_um: float | None = None, by_um: float | None = None) -> float:
        """Move to ``z_um`` or by ``by_um`` (um); refused (422) outside the limits, nothing moves."""
        ctl = self._need_drive("moving")
        with self.mutex:
            self._claim(client)
            self._check_free("moving")
            target = float(z_um) if z_um is not None else float(ctl.drive.position) + float(by_um or 0.0)
            ctl.drive.plan(target)  # LimitError (422) now, before anything is sent
            self._set(state="moving", reason=f"moving to z = {target:.6g} um", emit=False)
            self._start_job("move", lambda: self._moved(ctl.drive.move_to(target)))
            return target

    def _moved(self, z: float) -> None:
        self._set(state="idle", reason=f"moved to z = {z:.6g} um")

    def lock(self, client: Client) -> None:
        """Hold focus with the focus lock (after a focused run)."""
        ctl = self._need_drive("the focus lock")
        with self.mutex:
            self._claim(client)
            self._check_free("locking")
            ctl.lock()
            self.owner = "lock"
            self._set(state="locked", reason="holding focus", phase=None)

    def unlock(self, client: Client) -> None:
        """Stop the focus lock."""
        ctl = self._need_drive("the focus lock")
        with self.mutex:
            self._claim(client)
            if self.owner != "lock":
                raise ConflictError("the focus lock is not on: nothing to unlock")
            ctl.unlock()
            self.owner = None
            self._set(state="idle", reason="unlocked")

    def stop(self, client: Client) -> None:
        """STOP: abort the run, the lock or the move at once; accepted from every client."""
        self._stopped_by = client.name
        self.halt()
        with self.mutex:
            if self.owner == "lock":
                self.owner = None
            self._set(state="stopped", reason=f"STOP by {client.name}", phase=None)
        self.wait(5.0)
        self.publish("message", {"message": f"STOP by {client.name}"})

    def halt(self) -> None:
        """Abort the controller's run or lock and stop the drive (no waiting)."""
        if self.controller is not None:
            self.controller.abort()
        if self.drive is not None:
            self.drive.stop()

    def close(self) -> float | None:
        """Halt, wait for the job, and return where the drive stopped (um; None if unknown)."""
        self.halt()
        self.wait(10.0)
        if self.drive is None:
            return None
        try:
            return float(self.drive.position)
        except FocuscamError:
            return None

    # ------------------------------------------------------------------ the controller's events
    def on_event(self, kind: str, data: dict) -> None:
        """An event of the autofocus run or the lock (the controller's ``on_event``)."""
        if kind == "sample":
            self.publish(
                "curve",
                {
                    "z_um": num(data.get("z_um")),
                    "score": num(data.get("score")),
                    "lock": bool(data.get("lock")),
                },
            )
        elif kind == "move":
            self.publish("move", {"target_um": num(data.get("target_um"))})
        elif kind == "refocus":
            self.publish(
                "message", {"message": f"focus lock: re-focusing at z = {data.get('z_um', 0):.6g} um"}
            )
        elif kind == "state":
            state = data.get("state")
            if state in _SCANNING:
                self._set(state="scanning", phase=_SCANNING[state], reason=f"autofocus {state}")
            elif state == "refocus-failed":
                self._set(state="locked", reason=f"re-focus failed: {data.get('reason', '')}")
            elif state == "lock-error":
                with self.mutex:
                    if self.owner == "lock":
                        self.owner = None
                self._set(state="stopped", reason=f"focus lock ended: {data.get('error', '')}")
