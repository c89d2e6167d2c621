"""Pure drawing for the live window: numpy/OpenCV in, a BGR image out; no window, no state.

- :func:`to_display` and :class:`Viewport` (from :mod:`.viewport`): any frame to uint8 BGR, and
  the map from frame pixels to display pixels and back (the mouse uses it).
- :func:`draw_roi`, :func:`draw_grid` (the focus map, tiles coloured by score with
  :func:`score_colour`), :func:`draw_status` draw onto a canvas.
- :func:`render_time_plot` and :func:`render_focus_curve` (from :mod:`.panels`) return the side
  panel's plots; every text goes through :func:`~focuscam.ui.text.fit_text` (:mod:`.text`).
- :func:`render_view` lays the whole window out from a :class:`ViewModel` snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import InputError
from ..types import ROI, ZUnit
from .panels import (
    PLOT_BG,
    PLOT_LINE,
    PLOT_MARGINS,
    render_empty_curve,
    render_focus_curve,
    render_time_plot,
    time_plot_ticks,
)
from .text import FONT, TEXT, fit_text, put_lines
from .text import text_width as _text_w
from .viewport import Viewport, blit_frame, fit_viewport, stretch_limits, to_display

__all__ = [
    "KEY_HELP",
    "PLOT_BG",
    "PLOT_LINE",
    "PLOT_MARGINS",
    "Layout",
    "ViewModel",
    "Viewport",
    "draw_grid",
    "draw_legend",
    "draw_roi",
    "draw_status",
    "fit_text",
    "fit_viewport",
    "key_help",
    "put_lines",
    "render_empty_curve",
    "render_focus_curve",
    "render_time_plot",
    "render_view",
    "score_colour",
    "status_lines",
    "stretch_limits",
    "time_plot_ticks",
    "to_display",
]

_FONT = FONT
#: Colours (BGR).
ROI_COLOUR = (0, 255, 255)  # yellow
DRAG_COLOUR = (255, 255, 0)  # cyan: the rectangle being drawn
PANEL_BG = (40, 40, 40)
KEY_HELP = "a autofocus  l lock  m measure  g grid  r record  s snapshot  +/- jog  q quit"
#: The legend entry of each key (in :data:`KEY_HELP` order).
KEY_LEGEND = (
    ("a", "a autofocus"),
    ("l", "l lock"),
    ("m", "m measure"),
    ("g", "g grid"),
    ("r", "r record"),
    ("s", "s snapshot"),
    ("+", "+/- jog"),
    ("q", "q quit"),
)


def key_help(keys: str | None = None) -> str:
    """The key legend, only for ``keys`` (e.g. ``"mgrsq"``; None = every key)."""
    return "  ".join(text for key, text in KEY_LEGEND if keys is None or key in keys)


# --------------------------------------------------------------------------- overlays
def draw_roi(canvas: np.ndarray, roi: ROI, vp: Viewport, colour=ROI_COLOUR, thickness: int = 2) -> None:
    """Draw the ROI (frame pixels) as a rectangle on the canvas (display pixels)."""
    p0, p1 = vp.roi_corners(roi)
    cv2.rectangle(canvas, p0, p1, colour, thickness)


def score_colour(v: float) -> tuple[int, int, int]:
    """BGR colour of a normalised score ``v`` in [0, 1]: blue (blurry) -> magenta -> red (sharp).

    The red channel rises and the blue channel falls monotonically with ``v``; NaN is gray.
    """
    if not math.isfinite(v):
        return (128, 128, 128)
    v = min(1.0, max(0.0, float(v)))
    return (round(255 * (1 - v)), 40, round(255 * v))


def draw_grid(
    canvas: np.ndarray, fmap: np.ndarray, area: ROI, vp: Viewport, *, alpha: float = 0.35
) -> tuple[float, float]:
    """Overlay a focus map on ``area`` (frame pixels): each tile filled with its score's colour
    and labelled with its score (when the tile is big enough); return the ``(lo, hi)`` range the
    colours span (for :func:`draw_legend`).

    Tiles follow :func:`focuscam.measures.focus_map`: tile ``(r, c)`` covers rows
    ``[r*h//rows, (r+1)*h//rows)`` and columns ``[c*w//cols, (c+1)*w//cols)`` of ``area``.
    Scores are normalised between the map's finite minimum and maximum.
    """
    fmap = np.asarray(fmap, dtype=np.float64)
    if fmap.ndim != 2 or fmap.size == 0:
        raise InputError(f"focus map of shape {fmap.shape} is not a 2-D grid: give rows x cols scores")
    rows, cols = fmap.shape
    finite = fmap[np.isfinite(fmap)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo
    overlay = canvas.copy()
    rects = []
    for r in range(rows):
        for c in range(cols):
            x0 = area.x + c * area.w // cols
            x1 = area.x + (c + 1) * area.w // cols
            y0 = area.y + r * area.h // rows
            y1 = area.y + (r + 1) * area.h // rows
            p0, p1 = vp.roi_corners(ROI(x0, y0, x1 - x0, y1 - y0))
            v = fmap[r, c]
            norm = (v - lo) / span if span > 0 else 0.5
            cv2.rectangle(overlay, p0, p1, score_colour(norm), -1)
            rects.append((p0, p1, v))
    cv2.addWeighted(overlay, alpha, canvas, 1 - alpha, 0, dst=canvas)
    for p0, p1, v in rects:
        cv2.rectangle(canvas, p0, p1, (200, 200, 200), 1)
        text = f"{v:.3g}" if math.isfinite(v) else "-"
        tw = _text_w(text, 0.4)
        if p1[0] - p0[0] > tw + 6 and p1[1] - p0[1] > 18:
            org = (p0[0] + 4, p0[1] + 14)  # top-left: the tile's tint stays visible in its middle
            cv2.putText(canvas, text, org, _FONT, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(canvas, text, org, _FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    return lo, hi


def draw_status(
    canvas: np.ndarray,
    lines: Sequence[str],
    origin: tuple[int, int],
    *,
    scale: float = 0.55,
    width_px: int | None = None,
) -> int:
    """Write lines of text top-down from ``origin``, each fitted to ``width_px`` (default: to the
    canvas's right edge) by :func:`fit_text`; return the y just below the last line."""
    x, y = origin
    width = canvas.shape[1] - x - 4 if width_px is None else width_px
    for line in lines:
        y = put_lines(canvas, line, (x, y), width, scale=scale, max_lines=2)
    return y


def draw_legend(
    canvas: np.ndarray, lo: float, hi: float, origin: tuple[int, int], width_px: int = 200
) -> None:
    """The grid tint's legend: a colour bar from ``lo`` (blurry) to ``hi`` (sharp) with values."""
    x, y = origin
    bar_h = 10
    label = f"grid {lo:.4g}"
    end = f"{hi:.4g}"
    lw = _text_w(label, 0.4) + 6
    bar_w = max(20, width_px - lw - _text_w(end, 0.4) - 6)
    cv2.rectangle(canvas, (x - 2, y - 14), (x + lw + bar_w + _text_w(end, 0.4) + 8, y + 4), (0, 0, 0), -1)
    cv2.putText(canvas, label, (x, y), _FONT, 0.4, TEXT, 1, cv2.LINE_AA)
    for i in range(bar_w):
        cv2.line(canvas, (x + lw + i, y - bar_h), (x + lw + i, y), score_colour(i / max(1, bar_w - 1)), 1)
    cv2.putText(canvas, end, (x + lw + bar_w + 4, y), _FONT, 0.4, TEXT, 1, cv2.LINE_AA)


# --------------------------------------------------------------------------- the whole view
@dataclass(frozen=True)
class _Peak:
    z: float
    state: str | None


@dataclass
class ViewModel:
    """Everything one rendered window image shows (a snapshot taken from the UI state).

    Attributes
    ----------
    pixels : ndarray or None
        The newest frame.
    roi : ROI or None
        The ROI in frame pixels (None = whole frame).
    drag_roi : ROI or None
        The rectangle being drawn or dragged with the mouse (frame pixels).
    focus_map : ndarray or None
        Scores of the grid tiles over the ROI (shown when ``show_grid``).
    curve_z, curve_scores : list of float
        The autofocus curve so far (z in um).
    peak_z, peak_state
        The chosen peak (um) and its state, once found.
    z_unit : ZUnit
        The unit z is shown in (a twin's stack unit, e.g. mm); positions above stay um.
    t, scores : list of float
        Score history (monotonic seconds).
    seq : int or None
        Sequence number of the frame the score belongs to.
    verdict_seq : int or None
        Sequence number of the frame the blur verdict was computed on (it may be older than
        ``seq`` with an asynchronous verdict: the status says which frame it is).
    keys : str or None
        The keys that work in this window (the legend shows only these); None = all.
    curve_note : str or None
        What the empty focus-curve panel says (e.g. that the source has no z).
    """

    pixels: np.ndarray | None = None
    roi: ROI | None = None
    drag_roi: ROI | None = None
    show_grid: bool = False
    focus_map: np.ndarray | None = None
    score: float | None = None
    measure: str | None = None
    verdict: str | None = None
    fps: float | None = None
    measure_ms: float | None = None
    dropped: int | None = None
    z_um: float | None = None
    af_state: str | None = None
    locked: bool = False
    recording: bool = False
    message: str | None = None
    t: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    curve_z: list[float] = field(default_factory=list)
    curve_scores: list[float] = field(default_factory=list)
    peak_z: float | None = None
    peak_state: str | None = None
    z_unit: ZUnit = field(default_factory=ZUnit)
    seq: int | None = None
    verdict_seq: int | None = None
    keys: str | None = None
    curve_note: str | None = None


def curve_in_unit(view: ViewModel) -> tuple[list[float], _Peak | None, str]:
    """The focus curve's z and its peak converted to the view's unit, and the unit's name."""
    unit = view.z_unit
    zs = [float(unit.from_um(z)) for z in view.curve_z]
    peak = None if view.peak_z is None else _Peak(float(unit.from_um(view.peak_z)), view.peak_state)
    return zs, peak, unit.name


@dataclass(frozen=True)
class Layout:
    """Window layout in pixels: the frame box on the left, a side panel on the right.

    The default (1240 x 660) fits a 1280 x 720 screen with the window's title bar;
    :meth:`fit` scales the layout to any window size (the window is resizable).
    """

    frame_w: int = 840
    frame_h: int = 660
    side_w: int = 400
    status_h: int = 230
    plot_h: int = 200

    #: The smallest window :meth:`fit` lays out (smaller windows show it scaled down).
    MIN_SIZE = (640, 630)

    @classmethod
    def fit(cls, width: int, height: int) -> Layout:
        """The layout for a window of ``width x height`` pixels (at least :attr:`MIN_SIZE`).

        The side panel takes about a third of the width (320..560 px); the status keeps its
        height, the score trace and the focus curve share the rest of the height.
        """
        width, height = max(int(width), cls.MIN_SIZE[0]), max(int(height), cls.MIN_SIZE[1])
        side = min(560, max(320, round(width * 0.32)))
        status = 230
        plot = max(200, min(320, round((height - status) * 0.45)))
        return cls(frame_w=width - side, frame_h=height, side_w=side, status_h=status, plot_h=plot)

    @property
    def size(self) -> tuple[int, int]:
        """Whole window size ``(w, h)``."""
        return self.frame_w + self.side_w, self.frame_h

    def __post_init__(self) -> None:
        if self.side_w < 320 or self.frame_h - self.status_h - self.plot_h < 200 or self.frame_w < 160:
            raise InputError(
                "layout too small: the side panel needs side_w >= 320, the frame frame_w >= 160 and "
                "frame_h - status_h - plot_h >= 200 for the focus curve"
            )


#: Autofocus event states that belong to the focus lock (shown once, as ``lock: STATE``).
LOCK_STATES = {
    "locked": "on",
    "unlocked": "off",
    "lock-paused": "paused",
    "lock-error": "error",
    "refocus-failed": "refocus failed",
}


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:{spec}}{unit}"


def status_lines(view: ViewModel) -> list[str]:
    """The status text: score, measure, blur verdict, fps, measure ms, dropped, z, states."""
    blur = view.verdict or "-"
    if view.verdict and view.verdict_seq is not None:
        blur = f"{view.verdict} (of frame {view.verdict_seq})"
    frame = f"  (frame {view.seq})" if view.seq is not None else ""
    lines = [
        f"score    {_fmt(view.score, '.5g')}{frame}",
        f"measure  {view.measure or '-'}",
        f"blur     {blur}",
        f"fps      {_fmt(view.fps, '.1f')}   ({_fmt(view.measure_ms, '.2f', ' ms')} to score)",
        f"dropped  {view.dropped if view.dropped is not None else '-'}",
        f"z        {_fmt(view.z_unit.from_um(view.z_um), '.6g', ' ' + view.z_unit.name)}",
    ]
    flags = []
    lock_state = view.af_state in LOCK_STATES
    if view.af_state and not lock_state:
        flags.append(f"autofocus: {view.af_state}")
    if lock_state and (view.locked or view.af_state != "unlocked"):
        flags.append(f"lock: {LOCK_STATES[view.af_state]}")  # one label for the lock, never twice
    elif view.locked:
        flags.append("lock: on")
    if view.recording:
        flags.append("REC")
    if view.show_grid:
        flags.append("grid")
    lines.append("  ".join(flags) if flags else "idle")
    return lines


def render_view(view: ViewModel, layout: Layout | None = None) -> tuple[np.ndarray, Viewport | None]:
    """Draw the whole window image; return it and the frame's viewport (None without a frame)."""
    layout = layout or Layout()
    width, height = layout.size
    canvas = np.zeros((height, width, 3), np.uint8)
    legend = fit_text(key_help(view.keys), layout.frame_w - 16, scale=0.45, max_lines=2)
    legend_h = 18 * len(legend) + 6
    vp = None
    if view.pixels is not None:
        image = to_display(view.pixels)
        fh, fw = image.shape[:2]
        vp = fit_viewport(fw, fh, layout.frame_w, layout.frame_h - legend_h)
        blit_frame(canvas, image, vp)
        area = view.roi or ROI(0, 0, fw, fh)
        if view.show_grid and view.focus_map is not None:
            lo, hi = draw_grid(canvas, view.focus_map, area, vp)
            draw_legend(canvas, lo, hi, (10, height - legend_h - 8), min(320, layout.frame_w - 20))
        if view.roi is not None:
            draw_roi(canvas, view.roi, vp)
        if view.drag_roi is not None:
            draw_roi(canvas, view.drag_roi, vp, DRAG_COLOUR, 1)
    else:
        cv2.putText(canvas, "waiting for frames...", (20, 40), _FONT, 0.8, TEXT, 1, cv2.LINE_AA)
    for i, line in enumerate(legend):
        y = height - 8 - 18 * (len(legend) - 1 - i)
        cv2.putText(canvas, line, (8, y), _FONT, 0.45, (180, 180, 180), 1, cv2.LINE_AA)
    # side panel
    sx = layout.frame_w
    canvas[:, sx:] = PANEL_BG
    y = draw_status(canvas, status_lines(view), (sx + 10, 4), scale=0.5, width_px=layout.side_w - 20)
    if view.message:
        put_lines(canvas, view.message, (sx + 10, y + 2), layout.side_w - 20, colour=ROI_COLOUR, max_lines=3)
    plot_y = layout.status_h
    canvas[plot_y : plot_y + layout.plot_h, sx:] = render_time_plot(
        view.t, view.scores, (layout.side_w, layout.plot_h)
    )
    cy = plot_y + layout.plot_h
    zs, peak, unit = curve_in_unit(view)
    canvas[cy:, sx:] = render_focus_curve(
        zs,
        view.curve_scores,
        (layout.side_w, height - cy),
        peak=peak,
        z_unit=unit,
        measure=view.measure,
        empty_note=view.curve_note,
    )
    return canvas, vp
