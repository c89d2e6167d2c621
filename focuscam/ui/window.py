"""The thin OpenCV HighGUI loop: show the rendered view, route keys and mouse to the UI state.

Usage (in a CLI command, with the engine running on its own threads)::

    state = UiState(actions, roi=roi)           # actions: a UiActions engine adapter
    engine = ...(on_sample=state.push_sample)   # the engine feeds the state
    if not run_window(state, title="focuscam monitor"):
        ...                                     # no display: run headless (one message was printed)

Without a display the window is never created: OpenCV's Qt backend aborts the whole process
when it cannot reach an X server, so :func:`display_available` first checks ``DISPLAY`` and
then opens a probe window in a short child process. :func:`run_window` then prints ONE line
saying it falls back to headless mode and returns ``False``; it never crashes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, TextIO

from .render import Layout, render_view
from .state import UiState

__all__ = ["display_available", "run_window"]

_PROBE = (
    "import cv2\n"
    "cv2.namedWindow('focuscam-probe', cv2.WINDOW_AUTOSIZE)\n"
    "cv2.waitKey(1)\n"
    "cv2.destroyAllWindows()\n"
)


def display_available(timeout_s: float = 30.0) -> tuple[bool, str]:
    """Whether a HighGUI window can be opened here; ``(ok, reason)`` where reason explains a no.

    Checks ``DISPLAY`` (or ``WAYLAND_DISPLAY``), then opens and closes a window in a child
    process (so an unreachable X server cannot abort this one).
    """
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY is not set)"
    env = {**os.environ, "QT_LOGGING_RULES": os.environ.get("QT_LOGGING_RULES", "default.warning=false")}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return (
            False,
            f"opening a window on DISPLAY={os.environ.get('DISPLAY')} did not finish in {timeout_s:g} s",
        )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip() and "QFont" not in ln]
        detail = lines[0] if lines else f"exit code {proc.returncode}"
        return False, f"cannot open a window on DISPLAY={os.environ.get('DISPLAY', '')} ({detail})"
    return True, ""


def run_window(
    state: UiState,
    *,
    title: str = "focuscam",
    layout: Layout | None = None,
    poll_ms: int = 15,
    should_stop: Any = None,
    check_display: bool = True,
    stream: TextIO | None = None,
    on_render: Any = None,
) -> bool:
    """Show the live window until ``q``/Esc, the window is closed, or ``should_stop()`` is true.

    Parameters
    ----------
    state : UiState
        The UI state; its actions adapter receives every key and ROI change. On ``q``/Esc and
        on closing the window, ``state.actions.quit()`` is called (drive stopped, files closed).
    title : str
        The window title.
    layout : Layout, optional
        Sizes of the frame box and side panel when the window opens (default: fits a
        1280 x 720 screen). The window is resizable: after the user resizes it, the view is
        laid out again for the new size (:meth:`Layout.fit`).
    poll_ms : int
        Milliseconds ``cv2.waitKey`` waits per loop (the redraw period).
    should_stop : callable, optional
        Called every loop; True ends the window (e.g. the engine's source ended). ``quit()`` is
        then not called: the caller owns the shutdown.
    check_display : bool
        Probe for a display first (:func:`display_available`).
    stream : file, optional
        Where the one headless message goes (default ``sys.stderr``).
    on_render : callable, optional
        ``on_render(canvas)`` after each redraw (tests save the rendered frame with it).

    Returns
    -------
    bool
        True when the window was shown; False when there is no display (one message printed,
        nothing else done: the caller runs headless).
    """
    stream = sys.stderr if stream is None else stream
    if check_display:
        ok, reason = display_available()
        if not ok:
            print(f"focuscam: {reason}; running headless (pass --no-window to skip the window)", file=stream)
            return False
    # Qt warns on every start that opencv-python ships no fonts; we draw our own text, so quiet it
    os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")
    import cv2

    layout = layout or Layout()
    try:
        # resizable: the view is re-laid out to the window's size (read every loop)
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_FREERATIO | cv2.WINDOW_GUI_NORMAL)
        cv2.resizeWindow(title, *layout.size)
    except cv2.error as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cv2.error"
        print(f"focuscam: cannot open a window ({first}); running headless", file=stream)
        return False
    cv2.setMouseCallback(title, state.on_mouse)
    shown = False
    try:
        while not state.quit_requested:
            if should_stop is not None and should_stop():
                break
            if shown:
                layout = _layout_for_window(cv2, title, layout)
            canvas, vp = render_view(state.view(), layout)
            state.viewport = vp
            cv2.imshow(title, canvas)
            if on_render is not None:
                on_render(canvas)
            key = cv2.waitKey(max(1, int(poll_ms)))
            shown = True
            state.on_key(key)
            if shown and not state.quit_requested and _closed_by_user(cv2, title):
                state.on_key(ord("q"))
    finally:
        if not _closed_by_user(cv2, title):
            cv2.destroyWindow(title)
        cv2.waitKey(1)
    return True


def _layout_for_window(cv2: Any, title: str, layout: Layout) -> Layout:
    """The layout for the window's current size (the user may have resized it)."""
    try:
        _, _, w, h = cv2.getWindowImageRect(title)
    except cv2.error:
        return layout
    if w <= 0 or h <= 0 or (w, h) == layout.size:
        return layout
    return Layout.fit(w, h)


def _closed_by_user(cv2: Any, title: str) -> bool:
    try:
        return cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:
        return True
