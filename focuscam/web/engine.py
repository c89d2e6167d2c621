"""The server's microscope: one source, one optional drive, the monitor and the autofocus.

:class:`Microscope` is what every route of :mod:`focuscam.web.app` calls. It owns

- a :class:`~focuscam.web.hub.FrameHub` reading the source (live view, monitor and autofocus
  each get every frame);
- a :class:`~focuscam.monitor.Monitor` scoring every frame (the live score, fps, dropped
  frames, the focus map);
- :class:`~focuscam.web.jobs.DriveJobs` (``jobs``): autofocus runs, moves, the focus lock and
  STOP, and what holds the drive;
- an :class:`~focuscam.ui.actions.EngineActions` for what the desktop window also does the
  same way (snapshots, recording, measure and ROI changes);
- a :class:`~focuscam.web.clients.ControlDesk` (``desk``): one web client controls the
  microscope at a time; every client may watch, and STOP is accepted from anyone, always.

Its state as JSON is :func:`focuscam.web.state.state_json`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._measure_choice import AUTO, default_measure
from ..errors import ConflictError, InputError
from ..types import ROI
from .clients import Client, ControlDesk
from .hub import FrameHub, HubTap
from .jobs import DriveJobs
from .state import state_json

__all__ = ["Microscope"]


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
        The focus measure at start: a name, or ``"auto"`` (the default): the monitor then
        scores with the mode's default measure (``lapv``; ``glvn`` in brightfield) and an
        autofocus run goes on with the other automatic measures when that one finds no
        significant peak, as ``focuscam autofocus`` does, until a measure is chosen.
    roi : ROI, optional
        Region scored (frame pixels).
    grid : (rows, cols), optional
        Focus-map grid of the monitor.
    jog_um : float
        The page's jog step in um.
    out_dir : path
        Where snapshots and recordings go.
    mode : str
        The autofocus runs' peak mode (``max``; ``brightfield`` on a brightfield twin).
    """

    def __init__(
        self,
        source: Any,
        drive: Any = None,
        *,
        publish: Callable[[str, dict], Any],
        twin: Any = None,
        measure: str = AUTO,
        roi: ROI | None = None,
        grid: tuple[int, int] | None = None,
        jog_um: float = 10.0,
        out_dir: str | Path = ".",
        mode: str = "max",
    ) -> None:
        from ..monitor import Monitor
        from ..ui.actions import EngineActions
        from ..ui.live import _recording_factory

        live = default_measure(mode) if measure == AUTO else measure
        self.publish = publish
        self.drive = drive
        self.twin = twin
        self.hub = FrameHub(source)
        self.grid_shape = grid or (3, 3)
        # the monitor scores every frame: it reads the source itself (the hub's driver); its
        # samples go to _on_sample only (no queue that nobody reads)
        self.monitor = Monitor(self.hub.driver(), measure=live, roi=roi, grid=grid, queue_size=0)
        self.monitor.subscribe(self._on_sample)
        self.actions = EngineActions(
            jog_um=jog_um,
            measure=live,
            on_measure=lambda name: setattr(self.monitor, "measure", name),
            on_roi=lambda r: setattr(self.monitor, "roi", r),
            on_grid=lambda on: setattr(self.monitor, "grid", self.grid_shape if on else None),
            start_recording=_recording_factory(Path(out_dir)),
            latest_frame=lambda: self.hub.latest,
            snapshot_dir=out_dir,
            close_drive=False,
        )
        self.actions.grid = grid is not None
        options: dict[str, Any] = {"mode": mode}
        if twin is not None:
            options["resolution_um"] = twin.spacing_um
        self.desk = ControlDesk(lambda: self.jobs.owner is not None, self._publish_state)
        self.jobs = DriveJobs(
            self.hub.tap(buffer=2) if drive is not None else None,
            drive,
            options,
            self.monitor,
            publish=publish,
            changed=self._publish_state,
            claim=self.desk.claim,
            check_roi=self._check_roi,
            twin=twin,
            measure=measure,
        )
        self._lock = self.jobs.mutex
        #: The newest sample of the monitor (a dict, ``z_um`` for ``z``), or None.
        self.sample: dict[str, Any] | None = None
        self._recorder: HubTap | None = None  # feeds a recording, only while one runs
        self.closed = False
        #: Where the drive stopped (um), read by :meth:`close`.
        self.final_z: float | None = None

    # ------------------------------------------------------------------ life
    def start(self) -> Microscope:
        """Start the pump and the monitor."""
        self.hub.start()
        self.monitor.start()
        return self

    def close(self) -> None:
        """Stop the drive and every job, close the recording, release the camera; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.final_z = self.jobs.close()
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
        """Use focus measure ``name`` in the monitor and the next autofocus; ``"auto"``: the
        next autofocus chooses (the monitor keeps its measure)."""
        from ..measures import MEASURES

        with self._lock:
            self.claim(client)
            if name != AUTO and name not in MEASURES:
                raise InputError(f"measure {name!r} is unknown: use {AUTO} or one of {', '.join(MEASURES)}")
            if name != AUTO:
                self.actions.measure = name
                self.monitor.measure = name
            self.jobs.measure = name
            self._publish_state()

    def set_grid(self, client: Client, on: bool) -> None:
        """Show the focus-map grid (or not)."""
        with self._lock:
            self.claim(client)
            if self.actions.grid != bool(on):
                self.actions.toggle_grid()
            self._publish_state()

    def record(self, client: Client, on: bool) -> str:
        """Start or stop recording the live frames to a stack in the output folder.

        The frames reach the recording on a thread of its own (slow PNG writes never hold up the
        live view), which runs only while recording.
        """
        with self._lock:
            self.claim(client)
            if (self.actions.writer is not None) == bool(on):
                raise ConflictError(f"recording is already {'on' if on else 'off'}")
            message = self.actions.toggle_recording() or ""
            if self.actions.writer is not None and self._recorder is None:
                self._recorder = self.hub.consume(self._record, "focuscam-web-record")
            elif self.actions.writer is None and self._recorder is not None:
                self._recorder.close()  # its thread ends
                self._recorder = None
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
        self.sample = data
        self.publish("sample", data)

    def _publish_state(self) -> None:
        self.publish("state", self.state_json(samples=False))

    # ------------------------------------------------------------------ JSON
    def state_json(self, *, samples: bool = True) -> dict[str, Any]:
        """What ``GET /api/state`` answers (see :func:`focuscam.web.state.state_json`)."""
        return state_json(self, samples=samples)

    def result_json(self) -> dict[str, Any] | None:
        """The last autofocus result, as ``focuscam autofocus --json`` prints it (+ ``model``)."""
        return self.jobs.result
