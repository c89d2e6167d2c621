"""Pure drawing for the live window: numpy/OpenCV in, a BGR image out; no window, no state.

- :func:`to_display` turns any frame (gray or BGR; uint8, uint16 or float32) into uint8 BGR;
  16-bit and float frames get an auto-contrast percentile stretch (:func:`stretch_limits`).
- :class:`Viewport` maps frame pixels to display pixels and back (the mouse uses it).
- :func:`draw_roi`, :func:`draw_grid` (the focus map, tiles coloured by score with
  :func:`score_colour`), :func:`draw_status` draw onto a canvas.
- :func:`render_time_plot` (score against time, scrolling) and :func:`render_focus_curve` (score
  against z, growing sample by sample, with the chosen peak marked; drawn by
  :func:`focuscam.plot.render_curve`) return panel images.
- :func:`render_view` lays the whole window out from a :class:`ViewModel` snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..types import ROI, ZUnit

__all__ = [
    "KEY_HELP",
    "PLOT_MARGINS",
    "Layout",
    "ViewModel",
    "Viewport",
    "draw_grid",
    "draw_roi",
    "draw_status",
    "fit_viewport",
    "render_focus_curve",
    "render_time_plot",
    "render_view",
    "score_colour",
    "status_lines",
    "stretch_limits",
    "to_display",
]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Colours (BGR).
ROI_COLOUR = (0, 255, 255)  # yellow
DRAG_COLOUR = (255, 255, 0)  # cyan: the rectangle being drawn
PLOT_LINE = (80, 220, 80)  # green: the score-vs-time line
PLOT_BG = (24, 24, 24)
PANEL_BG = (40, 40, 40)
TEXT = (235, 235, 235)
#: Inner margins (left, top, right, bottom) of the time plot, in pixels.
PLOT_MARGINS = (8, 24, 8, 8)
KEY_HELP = "a autofocus  l lock  m measure  g grid  r record  s snapshot  +/- jog  q quit"


# --------------------------------------------------------------------------- frames
def _check_frame(pixels: Any) -> np.ndarray:
    if not isinstance(pixels, np.ndarray):
        raise InputError(f"frame is a {type(pixels).__name__}, not a numpy array: pass the frame's pixels")
    if pixels.ndim not in (2, 3):
        raise InputError(f"frame has {pixels.ndim} dimensions: give a 2-D gray or 3-D colour image")
    if pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4):
        raise InputError(f"frame has {pixels.shape[2]} channels: give 1 (gray), 3 (BGR) or 4 (BGRA)")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise InputError(f"frame of shape {pixels.shape} is empty: give at least one pixel")
    if pixels.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise InputError(f"frame dtype {pixels.dtype} is not shown: give uint8, uint16 or float32")
    return pixels


def stretch_limits(pixels: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> tuple[float, float]:
    """The display range ``(lo, hi)`` of a frame: its ``low_pct`` and ``high_pct`` percentiles.

    Computed on a strided subsample of at most about 250 000 pixels (NaNs ignored), so a few hot
    pixels do not decide the contrast. ``hi > lo`` always (a flat frame gets ``hi = lo + 1``).
    """
    pixels = _check_frame(pixels)
    if not 0 <= low_pct < high_pct <= 100:
        raise InputError(f"percentiles {low_pct}, {high_pct} are not 0 <= low < high <= 100")
    h, w = pixels.shape[:2]
    step = max(1, int(math.sqrt(h * w / 250_000)))
    sample = pixels[::step, ::step].astype(np.float64, copy=False).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def to_display(
    pixels: np.ndarray, *, low_pct: float = 0.5, high_pct: float = 99.5, stretch_8bit: bool = False
) -> np.ndarray:
    """A uint8 BGR image for display.

    uint8 frames are shown as they are (gray expanded to BGR, BGRA without alpha) unless
    ``stretch_8bit``; uint16 and float frames are stretched linearly so that the ``low_pct``
    percentile maps to 0 and the ``high_pct`` percentile to 255 (values beyond are saturated,
    NaN shows black).
    """
    pixels = _check_frame(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.dtype == np.uint8 and not stretch_8bit:
        out = pixels
    else:
        lo, hi = stretch_limits(pixels, low_pct, high_pct)
        scaled = (pixels.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / (hi - lo))
        scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
        out = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    if out.ndim == 2:
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    if out.shape[2] == 4:
        return cv2.cvtColor(out, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(out)


@dataclass(frozen=True)
class Viewport:
    """Where a frame is drawn: display = offset + frame * scale.

    Attributes
    ----------
    scale : float
        Display pixels per frame pixel.
    ox, oy : int
        Display position of the frame's top-left corner.
    frame_w, frame_h : int
        Frame size in pixels.
    """

    scale: float
    ox: int
    oy: int
    frame_w: int
    frame_h: int

    @property
    def size(self) -> tuple[int, int]:
        """Display size ``(w, h)`` of the drawn frame."""
        return max(1, round(self.frame_w * self.scale)), max(1, round(self.frame_h * self.scale))

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        """Display point -> frame point (pixels, not clipped)."""
        return (x - self.ox) / self.scale, (y - self.oy) / self.scale

    def to_display(self, x: float, y: float) -> tuple[float, float]:
        """Frame point -> display point."""
        return self.ox + x * self.scale, self.oy + y * self.scale

    def contains(self, x: float, y: float) -> bool:
        """True when the display point lies on the drawn frame."""
        w, h = self.size
        return self.ox <= x < self.ox + w and self.oy <= y < self.oy + h

    def roi_corners(self, roi: ROI) -> tuple[tuple[int, int], tuple[int, int]]:
        """Display corners (top-left, bottom-right, inclusive) of a frame ROI."""
        x0, y0 = self.to_display(roi.x, roi.y)
        x1, y1 = self.to_display(roi.x + roi.w, roi.y + roi.h)
        return (round(x0), round(y0)), (max(round(x0), round(x1) - 1), max(round(y0), round(y1) - 1))


def fit_viewport(frame_w: int, frame_h: int, box_w: int, box_h: int, *, x: int = 0, y: int = 0) -> Viewport:
    """The largest uniform scale that fits a ``frame_w x frame_h`` frame in a box, centred in it."""
    if min(frame_w, frame_h, box_w, box_h) <= 0:
        raise InputError(f"sizes must be positive: frame {frame_w}x{frame_h}, box {box_w}x{box_h}")
    scale = min(box_w / frame_w, box_h / frame_h)
    w, h = max(1, round(frame_w * scale)), max(1, round(frame_h * scale))
    return Viewport(scale, x + (box_w - w) // 2, y + (box_h - h) // 2, frame_w, frame_h)


def _blit_frame(canvas: np.ndarray, image: np.ndarray, vp: Viewport) -> None:
    w, h = vp.size
    interp = cv2.INTER_AREA if vp.scale < 1 else cv2.INTER_NEAREST
    scaled = (
        image
        if (w, h) == (image.shape[1], image.shape[0])
        else cv2.resize(image, (w, h), interpolation=interp)
    )
    canvas[vp.oy : vp.oy + h, vp.ox : vp.ox + w] = scaled


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


def draw_grid(canvas: np.ndarray, fmap: np.ndarray, area: ROI, vp: Viewport, *, alpha: float = 0.35) -> None:
    """Overlay a focus map on ``area`` (frame pixels): each tile filled with its score's colour.

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
            rects.append((p0, p1))
    cv2.addWeighted(overlay, alpha, canvas, 1 - alpha, 0, dst=canvas)
    for p0, p1 in rects:
        cv2.rectangle(canvas, p0, p1, (200, 200, 200), 1)


def draw_status(
    canvas: np.ndarray, lines: Sequence[str], origin: tuple[int, int], *, scale: float = 0.55
) -> int:
    """Write lines of text top-down from ``origin``; return the y just below the last line."""
    x, y = origin
    for line in lines:
        (_, th), base = cv2.getTextSize(line, _FONT, scale, 1)
        y += th + base + 4
        cv2.putText(canvas, line, (x, y - base), _FONT, scale, TEXT, 1, cv2.LINE_AA)
    return y


# --------------------------------------------------------------------------- plots
def render_time_plot(
    t: Sequence[float], scores: Sequence[float], size: tuple[int, int], *, span_s: float = 30.0
) -> np.ndarray:
    """Score against time over the last ``span_s`` seconds, newest at the right edge.

    Parameters
    ----------
    t : sequence of float
        Sample times in seconds (monotonic), ascending.
    scores : sequence of float
        Score of each sample.
    size : (width, height)
        Panel size in pixels.
    span_s : float
        Seconds shown across the plot's width.

    Returns
    -------
    ndarray
        ``height x width x 3`` uint8 BGR. The plot box starts :data:`PLOT_MARGINS` inside the
        panel; x = right edge - (t_last - t) / span_s * box width, y spans the visible scores'
        min..max (bottom..top).
    """
    width, height = size
    img = np.full((height, width, 3), PLOT_BG, np.uint8)
    left, top, right, bottom = PLOT_MARGINS
    x0, x1, y0, y1 = left, width - 1 - right, top, height - 1 - bottom
    cv2.rectangle(img, (x0, y0), (x1, y1), (90, 90, 90), 1)
    ts = np.asarray(t, dtype=np.float64)
    ss = np.asarray(scores, dtype=np.float64)
    if ts.shape != ss.shape:
        raise InputError(f"t has {ts.size} values but scores has {ss.size}: give one score per time")
    label = f"score, last {span_s:g} s"
    ok = np.isfinite(ts) & np.isfinite(ss)
    ts, ss = ts[ok], ss[ok]
    if ts.size:
        keep = ts >= ts[-1] - span_s
        ts, ss = ts[keep], ss[keep]
        lo, hi = float(ss.min()), float(ss.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        xs = x1 - (ts[-1] - ts) / span_s * (x1 - x0)
        ys = y1 - (ss - lo) / (hi - lo) * (y1 - y0)
        pts = np.round(np.stack([xs, ys], axis=1)).astype(np.int32)
        if len(pts) > 1:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, PLOT_LINE, 1, cv2.LINE_8)
        else:
            cv2.circle(img, (int(pts[0, 0]), int(pts[0, 1])), 2, PLOT_LINE, -1)
        label += f"  [{lo:.4g} .. {hi:.4g}]"
    cv2.putText(img, label, (x0, top - 8), _FONT, 0.45, TEXT, 1, cv2.LINE_AA)
    return img


def render_focus_curve(
    z: Sequence[float],
    scores: Sequence[float],
    size: tuple[int, int],
    *,
    peak: Any = None,
    z_unit: str | None = "um",
    measure: str | None = None,
) -> np.ndarray:
    """The focus curve so far (score against z), with the chosen peak marked when given.

    Drawn by :func:`focuscam.plot.render_curve` (at least 320 x 200 pixels); ``peak`` is a z
    (in ``z_unit``) or an object with ``z`` and ``state`` (green line: focused, red: failed).
    """
    from ..plot import render_curve

    return render_curve(
        list(z), list(scores), z_unit=z_unit, peak=peak, title="focus curve", measure=measure, size=size
    )


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


def curve_in_unit(view: ViewModel) -> tuple[list[float], _Peak | None, str]:
    """The focus curve's z and its peak converted to the view's unit, and the unit's name."""
    unit = view.z_unit
    zs = [float(unit.from_um(z)) for z in view.curve_z]
    peak = None if view.peak_z is None else _Peak(float(unit.from_um(view.peak_z)), view.peak_state)
    return zs, peak, unit.name


@dataclass(frozen=True)
class Layout:
    """Window layout in pixels: the frame box on the left, a side panel on the right."""

    frame_w: int = 960
    frame_h: int = 720
    side_w: int = 400
    status_h: int = 200
    plot_h: int = 220

    @property
    def size(self) -> tuple[int, int]:
        """Whole window size ``(w, h)``."""
        return self.frame_w + self.side_w, self.frame_h

    def __post_init__(self) -> None:
        if self.side_w < 320 or self.frame_h - self.status_h - self.plot_h < 200:
            raise InputError(
                "layout too small: the side panel needs side_w >= 320 and "
                "frame_h - status_h - plot_h >= 200 for the focus curve"
            )


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:{spec}}{unit}"


def status_lines(view: ViewModel) -> list[str]:
    """The status text: score, measure, blur verdict, fps, measure ms, dropped, z, states."""
    lines = [
        f"score    {_fmt(view.score, '.5g')}",
        f"measure  {view.measure or '-'}",
        f"blur     {view.verdict or '-'}",
        f"fps      {_fmt(view.fps, '.1f')}   ({_fmt(view.measure_ms, '.2f', ' ms')} to score)",
        f"dropped  {view.dropped if view.dropped is not None else '-'}",
        f"z        {_fmt(view.z_unit.from_um(view.z_um), '.6g', ' ' + view.z_unit.name)}",
    ]
    flags = []
    if view.af_state:
        flags.append(f"autofocus: {view.af_state}")
    if view.locked:
        flags.append("LOCKED")
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
    vp = None
    if view.pixels is not None:
        image = to_display(view.pixels)
        fh, fw = image.shape[:2]
        vp = fit_viewport(fw, fh, layout.frame_w, layout.frame_h - 24)
        _blit_frame(canvas, image, vp)
        area = view.roi or ROI(0, 0, fw, fh)
        if view.show_grid and view.focus_map is not None:
            draw_grid(canvas, view.focus_map, area, vp)
        if view.roi is not None:
            draw_roi(canvas, view.roi, vp)
        if view.drag_roi is not None:
            draw_roi(canvas, view.drag_roi, vp, DRAG_COLOUR, 1)
    else:
        cv2.putText(canvas, "waiting for frames...", (20, 40), _FONT, 0.8, TEXT, 1, cv2.LINE_AA)
    cv2.putText(canvas, KEY_HELP, (8, height - 8), _FONT, 0.45, (180, 180, 180), 1, cv2.LINE_AA)
    # side panel
    sx = layout.frame_w
    canvas[:, sx:] = PANEL_BG
    y = draw_status(canvas, status_lines(view), (sx + 10, 4))
    if view.message:
        cv2.putText(canvas, view.message[:60], (sx + 10, y + 16), _FONT, 0.45, ROI_COLOUR, 1, cv2.LINE_AA)
    plot_y = layout.status_h
    canvas[plot_y : plot_y + layout.plot_h, sx:] = render_time_plot(
        view.t, view.scores, (layout.side_w, layout.plot_h)
    )
    cy = plot_y + layout.plot_h
    zs, peak, unit = curve_in_unit(view)
    canvas[cy:, sx:] = render_focus_curve(
        zs, view.curve_scores, (layout.side_w, height - cy), peak=peak, z_unit=unit, measure=view.measure
    )
    return canvas, vp
