"""The server's microscope: one source, one optional drive, the monitor and the autofocus.

:class:`Microscope` is what every route of :mod:`focuscam.web.app` calls. It owns

- a :class:`~focuscam.web.hub.FrameHub` reading the source (live view, monitor and autofocus
  each get every frame);
- a :class:`~focuscam.monitor.Monitor` scoring every frame (the live score, fps, dropped
  frames, the focus map);
- a :class:`~focuscam.web.control.FocusController` (autofocus runs and the focus lock) when
  there is a drive;
- an :class:`~focuscam.ui.actions.EngineActions` for what the desktop window also does the
  same way (snapshots, recording, measure and ROI changes).

One thing holds the drive at a time (``owner``: ``search``, ``lock`` or ``move``), and one web
client controls the microscope at a time (``controller``); every client may watch, and STOP
is accepted from anyone, always. Refusals are :class:`~focuscam.errors.ConflictError` (409) or
an :class:`~focuscam.errors.InputError` / :class:`~focuscam.errors.LimitError` (422); a limit
violation is refused before anything moves, never clamped.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._threads import Worker
from ..errors import Aborted, ConflictError, FocuscamError, InputError
from ..types import ROI
from .clients import Client, ControlDesk
from .control import FocusController, model_curve
from .hub import FrameHub

__all__ = ["Microscope"]


_SCANNING = {"searching": "searching", "verifying": "verifying", "retrying": "retrying"}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Microscope:
    """The engine under ``focuscam serve`` (see the module docstring).

    Parameters
    ----------
    source : FrameSource
        The camera, video, replay or twin; released by :meth:`close`.
    drive : FocusDrive, optional
        The focus drive (um); stopped and closed by :meth:`close`. None = watch only.
    publish : callable
        ``publish(kind, data)``: every sample and state change (the events stream).
    twin : TwinSource, optional
        The twin's source half: gives the stack's unit, truth and plane spacing.
    measure : str
        The monitor's focus measure at start.
    roi : ROI, optional
        Region scored (frame pixels).
    grid : (rows, cols), optional
        Focus-map grid of the monitor.
    jog_um : float
        The page's jog step in um.
    out_dir : path
        Where snapshots and recordings go.
    """

    def __init__(
        self,
        source: Any,
        drive: Any = None,
        *,
        publish: Callable[[str, dict], Any],
        twin: Any = None,
        measure: str = "lapv",
        roi: ROI | None = None,
        grid: tuple[int, int] | None = None,
        jog_um: float = 10.0,
        out_dir: str | Path = ".",
        mode: str = "max",
    ) -> None:
        from ..monitor import Monitor
        from ..ui.actions import EngineActions
        from ..ui.live import _recording_factory

        self.publish = publish
        self.drive = drive
        self.twin = twin
        self.hub = FrameHub(source)
        self.grid_shape = grid or (3, 3)
        self.monitor = Monitor(self.hub.tap(buffer=4), measure=measure, roi=roi, grid=grid)
        self.monitor.subscribe(self._on_sample)
        self.actions = EngineActions(
            jog_um=jog_um,
            measure=measure,
            on_measure=lambda name: setattr(self.monitor, "measure", name),
            on_roi=lambda r: setattr(self.monitor, "roi", r),
            on_grid=lambda on: setattr(self.monitor, "grid", self.grid_shape if on else None),
            start_recording=_recording_factory(Path(out_dir)),
            latest_frame=lambda: self.hub.latest,
            snapshot_dir=out_dir,
            close_drive=False,
        )
        self.actions.grid = grid is not None
        self.controller: FocusController | None = None
        if drive is not None:
            options: dict[str, Any] = {"mode": mode}
            if twin is not None:
                options["resolution_um"] = twin.spacing_um
            self.controller = FocusController(self.hub.tap(buffer=2), drive, self._on_af_event, **options)
        self._lock = threading.RLock()
        self._job: Worker | None = None
        self.owner: str | None = None
        self.state = "idle"
        self.reason = ""
        self.confidence: float | None = None
        self.phase: str | None = None
        self.desk = ControlDesk(lambda: self.owner is not None, self._publish_state)
        self._sample: dict[str, Any] | None = None
        self._result_json: dict[str, Any] | None = None
        self._stopped_by: str | None = None
        self.closed = False
        #: Where the drive stopped (um), read by :meth:`close`.
        self.final_z: float | None = None

    # ------------------------------------------------------------------ life
    def start(self) -> Microscope:
        """Start the pump and the monitor."""
        self.hub.start()
        # the recording's own thread: slow PNG writes never hold up the live view
        self.hub.consume(self._record, "focuscam-web-record")
        self.monitor.start()
        return self

    def close(self) -> None:
        """Stop the drive and every job, close the recording, release the camera; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.controller is not None:
                self.controller.abort()
            if self.drive is not None:
                self.drive.stop()
            job = self._job
            if job is not None:
                job.wait(10.0)
            if self.drive is not None:
                try:
                    self.final_z = float(self.drive.position)
                except FocuscamError:
                    self.final_z = None
            self.actions.quit()  # closes a recording
        finally:
            try:
                self.monitor.stop()
            finally:
                self.hub.close()
                if self.drive is not None:
                    self.drive.close()

    # ------------------------------------------------------------------ clients
    def seen(self, client: Client) -> None:
        """A request of ``client`` arrived."""
        self.desk.seen(client)

    def connected(self, client: Client, delta: int) -> None:
        """A page of ``client`` opened (+1) or closed (-1) its events stream."""
        self.desk.connected(client, delta)

    def claim(self, client: Client) -> None:
        """Take control for ``client`` (409 when another client holds it)."""
        self.desk.claim(client)

    def release(self, client: Client) -> None:
        """Give up control."""
        self.desk.release(client)

    # ------------------------------------------------------------------ drive jobs
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
                self._set(state="error", reason=f"{owner}: {exc}")
                self.publish("problem", {"error": f"{owner}: {exc}"})
            except Exception as exc:  # shown as one line; the server keeps serving
                self._set(state="error", reason=f"{owner}: {type(exc).__name__}: {exc}")
                self.publish("problem", {"error": f"{owner}: {type(exc).__name__}: {exc}"})
            finally:
                with self._lock:
                    if self.owner == owner:
                        self.owner = None
                self._publish_state()

        self.owner = owner
        self._stopped_by = None
        self._job = Worker(body, f"focuscam-web-{owner}")
        self._job.start()

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
        with self._lock:
            self.claim(client)
            self._check_free("autofocus")
            if roi is not None:
                self._check_roi(roi)
            af = ctl.prepare(
                strategy=strategy,
                range_um=range_um,
                measure=measure or self.monitor.measure,
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
        self._result_json = out
        self._set(state=result.state, reason=result.reason, confidence=result.confidence, phase=None)
        self.publish("result", out)

    def move(self, client: Client, *, z_um: float | None = None, by_um: float | None = None) -> float:
        """Move to ``z_um`` or by ``by_um`` (um); refused (422) outside the limits, nothing moves."""
        ctl = self._need_drive("moving")
        with self._lock:
            self.claim(client)
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
        with self._lock:
            self.claim(client)
            self._check_free("locking")
            ctl.lock()
            self.owner = "lock"
            self._set(state="locked", reason="holding focus", phase=None)

    def unlock(self, client: Client) -> None:
        """Stop the focus lock."""
        ctl = self._need_drive("the focus lock")
        with self._lock:
            self.claim(client)
            if self.owner != "lock":
                raise ConflictError("the focus lock is not on: nothing to unlock")
            ctl.unlock()
            self.owner = None
            self._set(state="idle", reason="unlocked")

    def stop(self, client: Client) -> None:
        """STOP: abort the run, the lock or the move at once; accepted from every client."""
        self._stopped_by = client.name
        if self.controller is not None:
            self.controller.abort()
        if self.drive is not None:
            self.drive.stop()
        with self._lock:
            if self.owner == "lock":
                self.owner = None
            self._set(state="stopped", reason=f"STOP by {client.name}", phase=None)
        job = self._job
        if job is not None:
            job.wait(5.0)
        self.publish("message", {"message": f"STOP by {client.name}"})

    # ------------------------------------------------------------------ view settings
    def _check_roi(self, roi: ROI) -> None:
        size = self.hub.source.size
        if size is not None:
            w, h = size
            if roi.w < 1 or roi.h < 1 or roi.x + roi.w > w or roi.y + roi.h > h:
                raise InputError(f"roi {tuple(roi)} leaves the {w}x{h} frame: give x,y,w,h inside it")
        frame = self.hub.latest
        if frame is not None:  # the measure's own checks (e.g. a region too small to score)
            from ..measures import measure

            measure(frame.pixels, self.monitor.measure, roi)

    def set_roi(self, client: Client, roi: ROI | None) -> None:
        """Score ``roi`` (None = the whole frame) in the monitor and the next autofocus."""
        with self._lock:
            self.claim(client)
            if roi is not None:
                self._check_roi(roi)
            self.actions.set_roi(roi)
            self._publish_state()

    def set_measure(self, client: Client, name: str) -> None:
        """Use focus measure ``name`` in the monitor and the next autofocus."""
        from ..measures import MEASURES

        with self._lock:
            self.claim(client)
            if name not in MEASURES:
                raise InputError(f"measure {name!r} is unknown: use one of {', '.join(MEASURES)}")
            self.actions.measure = name
            self.monitor.measure = name
            self._publish_state()

    def set_grid(self, client: Client, on: bool) -> None:
        """Show the focus-map grid (or not)."""
        with self._lock:
            self.claim(client)
            if self.actions.grid != bool(on):
                self.actions.toggle_grid()
            self._publish_state()

    def record(self, client: Client, on: bool) -> str:
        """Start or stop recording the live frames to a stack in the output folder."""
        with self._lock:
            self.claim(client)
            if (self.actions.writer is not None) == bool(on):
                raise ConflictError(f"recording is already {'on' if on else 'off'}")
            message = self.actions.toggle_recording() or ""
            self._publish_state()
            return message

    def snapshot(self) -> str:
        """Save the newest frame as a PNG in the output folder; returns its path."""
        if self.hub.latest is None:
            raise ConflictError("no frame yet: wait for the camera")
        self.actions.snapshot()
        return str(self.actions.snapshots[-1])

    # ------------------------------------------------------------------ engine events
    def _record(self, frame: Any) -> None:
        writer = self.actions.writer
        if writer is None:
            return
        self.actions.record(frame)
        self.publish("recorded", {"frames": len(writer), "seq": frame.seq})

    def _on_sample(self, sample: Any) -> None:
        data = sample.to_dict()
        data["z_um"] = data.pop("z")
        self._sample = data
        self.publish("sample", data)

    def _on_af_event(self, kind: str, data: dict) -> None:
        if kind == "sample":
            self.publish(
                "curve",
                {
                    "z_um": _num(data.get("z_um")),
                    "score": _num(data.get("score")),
                    "lock": bool(data.get("lock", False)),
                },
            )
        elif kind == "move":
            self.publish("move", {"target_um": _num(data.get("target_um"))})
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
                with self._lock:
                    if self.owner == "lock":
                        self.owner = None
                self._set(state="stopped", reason=f"focus lock ended: {data.get('error', '')}")

    def _set(self, *, emit: bool = True, **values: Any) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self, key, value)
        if emit:
            self._publish_state()

    def _publish_state(self) -> None:
        self.publish("state", self.state_json(samples=False))

    # ------------------------------------------------------------------ JSON
    @staticmethod
    def strategies() -> dict[str, Any]:
        """The search strategies an autofocus may name, and the default."""
        from ..search import DEFAULT_STRATEGY, STRATEGIES

        return {"names": sorted(STRATEGIES), "default": DEFAULT_STRATEGY}

    def unit(self) -> dict[str, Any]:
        """The unit of the page's axes: the stack's on the twin, else um."""
        if self.twin is not None:
            return {"name": self.twin.stack.z_unit or "index", "um_per_unit": self.twin.scale_um}
        return {"name": "um", "um_per_unit": 1.0}

    def state_json(self, *, samples: bool = True) -> dict[str, Any]:
        """What ``GET /api/state`` answers (see the README for every key)."""
        s = self._sample or {}
        drive = self.drive
        z = None
        if drive is not None:
            try:
                z = _num(drive.position)
            except FocuscamError:
                z = None
        roi = self.monitor.roi
        last = self.controller.last_result if self.controller is not None else None
        out: dict[str, Any] = {
            "state": self.state,
            "phase": self.phase,
            "reason": self.reason,
            "confidence": None if self.confidence is None else round(float(self.confidence), 4),
            "z_um": z if z is not None else _num(s.get("z_um")),
            "score": s.get("score"),
            "measure": self.monitor.measure,
            "measures": list(self.actions.measures),
            "strategies": self.strategies(),
            "roi": None if roi is None else {"x": roi.x, "y": roi.y, "w": roi.w, "h": roi.h},
            "grid": list(self.monitor.grid) if self.monitor.grid is not None else None,
            "focus_map": s.get("focus_map"),
            "fps": s.get("fps"),
            "dropped": s.get("dropped"),
            "lock": {"on": self.owner == "lock", "available": bool(last is not None and last.focused)},
            "owner": self.owner,
            "controller": self.desk.to_json(),
            "watchers": self.desk.watchers,
            "recording": self.actions.writer is not None,
            "drive": None
            if drive is None
            else {"limits_um": [drive.limits.lo, drive.limits.hi], "jog_um": self.actions.jog_um},
            "unit": self.unit(),
            "frame": None if self.hub.source.size is None else list(self.hub.source.size),
            "source": self.hub.source.name,
            "source_ended": self.hub.ended,
            "source_error": None if self.hub.error is None else str(self.hub.error),
        }
        if samples:
            out["last_result"] = self._result_json
        return out

    def result_json(self) -> dict[str, Any] | None:
        """The last autofocus result, as ``focuscam autofocus --json`` prints it (+ ``model``)."""
        return self._result_json
