"""The live window's state and its key and mouse handlers, as plain methods (no window needed).

The UI holds no measure, search or drive logic: every key maps to one method of a
:class:`UiActions` object (the engine adapter), and the engine feeds the state through
thread-safe methods (:meth:`UiState.push_frame`, :meth:`UiState.push_sample`,
:meth:`UiState.on_autofocus_event`, ...). The window loop renders :meth:`UiState.view`.

The key and mouse handlers (:meth:`UiState.on_key`, :meth:`UiState.on_mouse`) come from
:class:`~focuscam.ui.handlers.InputHandlers`, which lists the keys and what the mouse does.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..types import ROI, ZUnit
from .handlers import (  # defined in .handlers (the key and mouse handlers), public here
    ESC,  # noqa: F401
    EVENT_LBUTTONDOWN,
    EVENT_LBUTTONUP,
    EVENT_MOUSEMOVE,
    EVENT_RBUTTONDOWN,
    KEYS,
    MIN_DRAG_PX,  # noqa: F401
    InputHandlers,
)
from .render import ViewModel, Viewport

__all__ = [
    "EVENT_LBUTTONDOWN",
    "EVENT_LBUTTONUP",
    "EVENT_MOUSEMOVE",
    "EVENT_RBUTTONDOWN",
    "KEYS",
    "UiActions",
    "UiState",
]


@runtime_checkable
class UiActions(Protocol):
    """What the window asks of the engine. Each method may return a short message to show.

    Implementations run on the window's thread and must return quickly (start long work, such
    as an autofocus, on the engine's own thread). Raising a
    :class:`~focuscam.errors.FocuscamError` shows its message in the window; any other
    exception ends the window.
    """

    def autofocus(self) -> str | None:
        """Start an autofocus run."""

    def toggle_lock(self) -> str | None:
        """Lock focus (keep it with local re-focusing) or unlock."""

    def next_measure(self) -> str | None:
        """Switch to the next focus measure."""

    def toggle_grid(self) -> str | None:
        """Start or stop computing the focus-map grid."""

    def toggle_recording(self) -> str | None:
        """Start or stop recording frames to a stack."""

    def snapshot(self) -> str | None:
        """Save the current frame; return where it went."""

    def jog(self, direction: int) -> str | None:
        """Move the drive one jog step up (+1) or down (-1)."""

    def quit(self) -> str | None:
        """Stop the drive, close files and the source: the window is closing."""

    def set_roi(self, roi: ROI | None) -> str | None:
        """Use ``roi`` (frame pixels; None = whole frame) from now on."""


class _AfSample(dict):
    """A status sample made from an autofocus "sample" event (when no monitor feeds the window)."""


def _get(sample: Any, name: str, default: Any = None) -> Any:
    if isinstance(sample, Mapping):
        return sample.get(name, default)
    return getattr(sample, name, default)


def _verdict(sample: Any) -> str | None:
    """A short blur verdict from a sample: ``"blurred"``/``"sharp"`` with the Tong ``per``."""
    blur = _get(sample, "blur")
    if blur is None:
        blur = _get(sample, "verdict")
    if isinstance(blur, str):
        return blur
    source = blur if blur is not None else sample
    blurred = _get(source, "is_blurred", _get(source, "blurred"))
    if blurred is None:
        return None
    per = _get(source, "per")
    text = "blurred" if blurred else "sharp"
    return f"{text} (per {per:.3f})" if isinstance(per, int | float) and math.isfinite(per) else text


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return None
    return float(value)


class UiState(InputHandlers):
    """The live window's state: the newest frame and sample, histories, the ROI and the mouse.

    Keys and mouse events are handled by :class:`~focuscam.ui.handlers.InputHandlers`.

    Parameters
    ----------
    actions : UiActions
        The engine adapter that every key and ROI change goes to.
    roi : ROI or None
        The initial ROI in frame pixels (None = whole frame).
    show_grid : bool
        Whether the focus-map grid starts visible.
    history : int
        Number of (t, score) samples kept for the scrolling plot.
    z_unit : ZUnit, optional
        The unit z is shown in (default um; a twin's stack unit, e.g. mm).
    """

    def __init__(
        self,
        actions: UiActions,
        *,
        roi: ROI | None = None,
        show_grid: bool = False,
        history: int = 2000,
        z_unit: ZUnit | None = None,
        curve_note: str | None = None,
    ) -> None:
        self.actions = actions
        self.curve_note = curve_note
        self.z_unit = ZUnit() if z_unit is None else z_unit
        self._lock = threading.Lock()
        self.roi = roi
        self.show_grid = bool(show_grid)
        self.viewport: Viewport | None = None
        self.quit_requested = False
        self.message: str | None = None
        self._pixels: np.ndarray | None = None
        self._sample: Any = None
        self._fmap: np.ndarray | None = None
        self._hist: deque[tuple[float, float]] = deque(maxlen=int(history))
        self._curve: list[tuple[float, float]] = []
        self._peak: tuple[float, str | None] | None = None
        self._af_state: str | None = None
        self._z: float | None = None
        self.locked = False
        self.recording = False
        self._drag: dict[str, Any] | None = None
        self._drag_roi: ROI | None = None

    # ------------------------------------------------------------------ engine side (any thread)
    def push_frame(self, frame: Any) -> None:
        """The newest frame: a :class:`~focuscam.types.Frame` or its pixels."""
        pixels = getattr(frame, "pixels", frame)
        z = getattr(frame, "z", None)
        with self._lock:
            self._pixels = pixels
            if z is not None:
                self._z = float(z)

    def push_sample(self, sample: Any) -> None:
        """A monitor sample (a :class:`focuscam.monitor.MonitorSample` or a mapping): t, score,
        measure, blur (verdict dict), focus_map, measure_ms, fps, dropped, z; the frame itself is
        taken from ``frame``/``pixels`` or ``extra["frame"]`` when the sample carries it (else
        feed frames with :meth:`push_frame`)."""
        frame = _get(sample, "frame")
        if frame is None:
            frame = _get(sample, "pixels")
        extra = _get(sample, "extra")
        if frame is None and isinstance(extra, Mapping):
            frame = extra.get("frame", extra.get("pixels"))
        if frame is not None:
            self.push_frame(frame)
        t, score = _number(_get(sample, "t")), _number(_get(sample, "score"))
        fmap = _get(sample, "focus_map")
        z = _number(_get(sample, "z"))
        measure = _get(sample, "measure")
        with self._lock:
            if measure is not None and measure != _get(self._sample, "measure", measure):
                self._hist.clear()  # a new measure: its scores are not comparable with the old
            self._sample = sample
            if fmap is not None:
                self._fmap = np.asarray(fmap, dtype=np.float64)
            if t is not None and score is not None and not _get(sample, "late", False):
                self._hist.append((t, score))  # a late verdict repeats a frame already plotted
            if z is not None:
                self._z = z

    def curve_reset(self) -> None:
        """A new autofocus run starts: clear the focus curve and its peak."""
        with self._lock:
            self._curve = []
            self._peak = None

    def curve_add(self, z_um: float, score: float) -> None:
        """One more (z in um, score) point of the focus curve."""
        with self._lock:
            self._curve.append((float(z_um), float(score)))

    def curve_peak(self, z_um: float | None, state: str | None = None) -> None:
        """The chosen peak (um) and the run's state (``"focused"``/``"failed"``)."""
        with self._lock:
            self._peak = None if z_um is None else (float(z_um), state)

    def set_status(
        self,
        *,
        af_state: str | None = None,
        locked: bool | None = None,
        recording: bool | None = None,
        z_um: float | None = None,
    ) -> None:
        """Update the engine flags shown in the status panel (None = unchanged)."""
        with self._lock:
            if af_state is not None:
                self._af_state = af_state
            if locked is not None:
                self.locked = bool(locked)
            if recording is not None:
                self.recording = bool(recording)
            if z_um is not None:
                self._z = float(z_um)

    def notify(self, message: str | None) -> None:
        """Show a one-line message (errors, where a snapshot went, ...)."""
        with self._lock:
            self.message = message

    def on_autofocus_event(self, kind: str, data: Mapping[str, Any]) -> None:
        """Plug for :class:`focuscam.autofocus.Autofocus`'s ``on_event(kind, data)``.

        ``state`` ``searching`` clears the curve; ``sample`` adds ``(z_um, score)`` (and, when
        no monitor feeds the window, the score to the status and the time plot); ``move`` and
        ``state`` update the status; ``result`` marks the chosen peak with its state.
        """
        if kind == "state":
            state = data.get("state")
            if state == "searching":
                self.curve_reset()
            locked = {"locked": True, "unlocked": False, "lock-error": False}.get(state)
            self.set_status(af_state=state, z_um=data.get("z_um"), locked=locked)
        elif kind == "sample":
            self.curve_add(data["z_um"], data["score"])
            self.set_status(z_um=data["z_um"])
            with self._lock:
                monitored = self._sample is not None and not isinstance(self._sample, _AfSample)
            if not monitored:  # no monitor feeds the status: show the autofocus's own scores
                self.push_sample(
                    _AfSample(
                        t=data.get("t"), score=data["score"], measure=getattr(self.actions, "measure", None)
                    )
                )
        elif kind == "move":
            self.set_status(z_um=data.get("target_um"))
        elif kind == "result":
            result = data.get("result")
            self.curve_peak(getattr(result, "z", None), getattr(result, "state", None))

    # ------------------------------------------------------------------ the view
    def view(self) -> ViewModel:
        """A consistent snapshot of everything to draw."""
        with self._lock:
            s = self._sample
            t = [p[0] for p in self._hist]
            scores = [p[1] for p in self._hist]
            measure_ms = _get(s, "measure_ms")
            dropped = _get(s, "dropped")
            seq, blur_seq = _get(s, "seq"), _get(s, "blur_seq")
            keys = getattr(self.actions, "keys", None)
            return ViewModel(
                pixels=self._pixels,
                roi=self.roi,
                drag_roi=self._drag_roi,
                show_grid=self.show_grid,
                focus_map=self._fmap,
                score=_number(_get(s, "score")),
                measure=_get(s, "measure"),
                verdict=_verdict(s) if s is not None else None,
                fps=_number(_get(s, "fps")),
                measure_ms=_number(measure_ms),
                dropped=int(dropped) if _number(dropped) is not None else None,
                z_um=self._z,
                af_state=self._af_state,
                locked=self.locked,
                recording=self.recording,
                message=self.message,
                t=t,
                scores=scores,
                curve_z=[p[0] for p in self._curve],
                curve_scores=[p[1] for p in self._curve],
                peak_z=self._peak[0] if self._peak else None,
                peak_state=self._peak[1] if self._peak else None,
                z_unit=self.z_unit,
                seq=int(seq) if _number(seq) is not None else None,
                verdict_seq=int(blur_seq) if _number(blur_seq) is not None else None,
                keys=keys() if callable(keys) else keys,
                curve_note=self.curve_note,
            )
