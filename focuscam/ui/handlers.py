"""The live window's key and mouse handlers, as plain methods (no window needed).

:class:`InputHandlers` is the part of :class:`~focuscam.ui.state.UiState` that turns key codes
(``cv2.waitKey``) and mouse events (``cv2.setMouseCallback``) into calls of the
:class:`~focuscam.ui.state.UiActions` adapter and into ROI changes; the state keeps what is
shown.

Keys: ``a`` autofocus, ``l`` lock/unlock, ``m`` next measure, ``g`` toggle grid, ``r``
start/stop recording, ``s`` snapshot, ``+``/``-`` (also ``=``/``_``) jog, ``q``/Esc quit.
Mouse: drag with the left button on the frame to draw a new ROI, or inside the ROI to move it;
right click resets the ROI to the whole frame. A rectangle dragged past the frame's edge is cut
at the edge (the frame is where the mouse can point; nothing else is clipped).
"""

from __future__ import annotations

from typing import Any

from ..errors import FocuscamError
from ..types import ROI
from .render import Viewport

# the key map, the mouse event codes and MIN_DRAG_PX are public as names of focuscam.ui.state
__all__ = ["InputHandlers"]

# OpenCV's mouse event codes (cv2.EVENT_*), kept here so this module needs no OpenCV.
EVENT_MOUSEMOVE = 0
EVENT_LBUTTONDOWN = 1
EVENT_RBUTTONDOWN = 2
EVENT_LBUTTONUP = 4

ESC = 27
#: key -> (UiActions method, argument or None)
KEYS: dict[str, tuple[str, Any]] = {
    "a": ("autofocus", None),
    "l": ("toggle_lock", None),
    "m": ("next_measure", None),
    "g": ("toggle_grid", None),
    "r": ("toggle_recording", None),
    "s": ("snapshot", None),
    "+": ("jog", +1),
    "=": ("jog", +1),
    "-": ("jog", -1),
    "_": ("jog", -1),
    "q": ("quit", None),
}

#: Display pixels a drag must span before it counts as a rectangle (smaller is a click).
MIN_DRAG_PX = 4


class InputHandlers:
    """Mixin of :class:`~focuscam.ui.state.UiState`: the key and mouse handlers.

    A key calls one method of :attr:`actions` (see :data:`KEYS`); a mouse drag on the frame
    draws or moves the ROI, a right click resets it, and the new ROI goes to
    ``actions.set_roi``. A :class:`~focuscam.errors.FocuscamError` the actions raise is shown
    with :meth:`notify`.

    Attributes
    ----------
    actions : UiActions
        The engine adapter (set by the host class).
    roi : ROI or None
        The ROI in frame pixels (None = whole frame).
    viewport : Viewport or None
        Where the frame was last drawn (display pixels); no mouse handling without it.
    show_grid : bool
        Toggled by ``g``.
    quit_requested : bool
        Set by ``q``/Esc.

    Notes
    -----
    The host also provides ``notify(message)`` and the drag state ``_drag`` (the button-down
    point and mode, or None) and ``_drag_roi`` (the rectangle being dragged, or None).
    """

    actions: Any
    roi: ROI | None
    viewport: Viewport | None
    show_grid: bool
    quit_requested: bool
    _drag: dict[str, Any] | None
    _drag_roi: ROI | None

    # ------------------------------------------------------------------ keys
    def on_key(self, code: int) -> bool:
        """Handle a key code from ``cv2.waitKey`` (-1 = none); return True when it meant something."""
        if code is None or code < 0:
            return False
        low = code & 0xFF  # what cv2.waitKey returns
        name = "q" if low == ESC else (chr(low).lower() if low < 128 else "")
        if name not in KEYS:
            return False
        method, arg = KEYS[name]
        if method == "quit":
            try:
                self._call("quit")
            finally:
                self.quit_requested = True
            return True
        if method == "toggle_grid":
            self.show_grid = not self.show_grid
        self._call(method, *(() if arg is None else (arg,)))
        return True

    def _call(self, method: str, *args: Any) -> None:
        try:
            message = getattr(self.actions, method)(*args)
        except FocuscamError as exc:
            self.notify(f"{method}: {exc}")
        else:
            if message:
                self.notify(str(message))

    # ------------------------------------------------------------------ mouse
    def on_mouse(self, event: int, x: int, y: int, flags: int = 0, param: Any = None) -> None:
        """Handle an OpenCV mouse event at display point ``(x, y)`` (``setMouseCallback`` form)."""
        vp = self.viewport
        if vp is None:
            return
        if event == EVENT_LBUTTONDOWN:
            if not vp.contains(x, y):
                return
            fx, fy = self._frame_point(vp, x, y)
            inside = self.roi is not None and (
                self.roi.x <= fx < self.roi.x + self.roi.w and self.roi.y <= fy < self.roi.y + self.roi.h
            )
            self._drag = {"mode": "move" if inside else "new", "x": x, "y": y, "roi": self.roi}
            self._drag_roi = None
        elif event == EVENT_MOUSEMOVE and self._drag is not None:
            self._drag_roi = self._drag_result(vp, x, y)
        elif event == EVENT_LBUTTONUP and self._drag is not None:
            roi = self._drag_result(vp, x, y)
            self._drag = None
            self._drag_roi = None
            if roi is not None and roi != self.roi:
                self._apply_roi(roi)
        elif event == EVENT_RBUTTONDOWN and vp.contains(x, y):
            self._drag = None
            self._drag_roi = None
            if self.roi is not None:
                self._apply_roi(None)

    def _apply_roi(self, roi: ROI | None) -> None:
        previous = self.roi
        self.roi = roi
        try:
            message = self.actions.set_roi(roi)
        except FocuscamError as exc:
            self.roi = previous
            self.notify(f"set_roi: {exc}")
        else:
            if message:
                self.notify(str(message))

    @staticmethod
    def _frame_point(vp: Viewport, x: float, y: float) -> tuple[float, float]:
        fx, fy = vp.to_frame(x, y)
        return min(max(fx, 0.0), float(vp.frame_w)), min(max(fy, 0.0), float(vp.frame_h))

    def _drag_result(self, vp: Viewport, x: int, y: int) -> ROI | None:
        drag = self._drag
        if drag is None:
            return None
        dx, dy = x - drag["x"], y - drag["y"]
        if max(abs(dx), abs(dy)) < MIN_DRAG_PX:
            return None
        if drag["mode"] == "move":
            roi: ROI = drag["roi"]
            nx = round(roi.x + dx / vp.scale)
            ny = round(roi.y + dy / vp.scale)
            nx = min(max(nx, 0), vp.frame_w - roi.w)
            ny = min(max(ny, 0), vp.frame_h - roi.h)
            return ROI(nx, ny, roi.w, roi.h)
        ax, ay = self._frame_point(vp, drag["x"], drag["y"])
        bx, by = self._frame_point(vp, x, y)
        # the nearest pixel boundary: at any display scale, a drag between the display points of
        # frame pixels (x0, y0) and (x1, y1) gives exactly that rectangle
        x0, x1 = round(min(ax, bx)), round(max(ax, bx))
        y0, y1 = round(min(ay, by)), round(max(ay, by))
        x1, y1 = min(x1, vp.frame_w), min(y1, vp.frame_h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        return ROI(x0, y0, x1 - x0, y1 - y0)
