"""The live window's plot panels: score against time (scrolling, with ticks) and the focus curve
(score against z, drawn by :func:`focuscam.plot.render_curve`; an empty panel before any z)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from .text import FONT, TEXT, fit_text, put_lines, text_width

__all__ = [
    "PLOT_BG",
    "PLOT_LINE",
    "PLOT_MARGINS",
    "render_empty_curve",
    "render_focus_curve",
    "render_time_plot",
    "time_plot_ticks",
]

PLOT_LINE = (80, 220, 80)  # green: the score-vs-time line (BGR)
PLOT_BG = (24, 24, 24)
#: Inner margins (left, top, right, bottom) of the time plot, in pixels (room for tick labels).
PLOT_MARGINS = (58, 24, 10, 22)


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
    for frac in (0.0, 0.5, 1.0):  # time ticks: seconds before now
        tx = round(x1 - frac * (x1 - x0))
        cv2.line(img, (tx, y1), (tx, y1 + 3), (150, 150, 150), 1)
        text = "now" if frac == 0 else f"-{frac * span_s:g} s"
        tw = text_width(text, 0.38)
        cv2.putText(img, text, (min(max(0, tx - tw // 2), width - tw - 1), y1 + 15), FONT, 0.38, TEXT, 1)
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
        for value in time_plot_ticks(lo, hi):  # score ticks on the left
            ty = round(y1 - (value - lo) / (hi - lo) * (y1 - y0))
            cv2.line(img, (x0 - 3, ty), (x0, ty), (150, 150, 150), 1)
            text = f"{value:.3g}"
            cv2.putText(img, text, (max(0, x0 - 5 - text_width(text, 0.38)), ty + 4), FONT, 0.38, TEXT, 1)
    line = fit_text(label, width - 8, scale=0.45, max_lines=1)[0]
    cv2.putText(img, line, (4, top - 8), FONT, 0.45, TEXT, 1, cv2.LINE_AA)
    return img


def time_plot_ticks(lo: float, hi: float) -> list[float]:
    """Score tick values of the time plot: its bottom, middle and top (``lo < hi``)."""
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise InputError(f"tick range {lo!r}..{hi!r} is not finite with lo < hi")
    return [lo, (lo + hi) / 2, hi]


def render_focus_curve(
    z: Sequence[float],
    scores: Sequence[float],
    size: tuple[int, int],
    *,
    peak: Any = None,
    z_unit: str | None = "um",
    measure: str | None = None,
    empty_note: str | None = None,
) -> np.ndarray:
    """The focus curve so far (score against z), with the chosen peak marked when given.

    Without samples the panel draws no axes: it says what it will show (``empty_note``, e.g.
    that the source has no z; see :func:`render_empty_curve`).

    Drawn by :func:`focuscam.plot.render_curve` (at least 320 x 200 pixels); ``peak`` is a z
    (in ``z_unit``) or an object with ``z`` and ``state`` (green line: focused, red: failed).
    """
    from ..plot import render_curve

    if len(z) == 0:
        return render_empty_curve(size, empty_note)
    return render_curve(
        list(z), list(scores), z_unit=z_unit, peak=peak, title="focus curve", measure=measure, size=size
    )


def render_empty_curve(size: tuple[int, int], reason: str | None = None) -> np.ndarray:
    """The focus-curve panel before any (z, score) sample: no axes, only what it will show.

    ``reason`` explains why there is no curve (e.g. the source has no z); default: waiting for
    an autofocus run (``a``).
    """
    width, height = size
    img = np.full((height, width, 3), PLOT_BG, np.uint8)
    y = put_lines(img, "focus curve (score against z)", (10, 6), width - 20, scale=0.5, max_lines=1)
    put_lines(img, reason or "no z yet: it grows during an autofocus run", (10, y + 8), width - 20)
    return img
