"""Focus-curve plots drawn with OpenCV only (no matplotlib).

:func:`render_curve` draws a labelled focus curve (axes with units and tick labels, the samples,
the fitted peak, an optional true focus band, a title) into a BGR image; :func:`save_curve_png`
writes it as a PNG. The live window reuses :func:`render_curve`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["format_z", "nice_ticks", "render_curve", "save_curve_png", "z_decimals"]


def z_decimals(spacing: float) -> int:
    """Decimals that show a z to about a tenth of the sample ``spacing`` (0..6)."""
    if not (isinstance(spacing, int | float) and math.isfinite(spacing) and spacing > 0):
        return 3
    return int(min(6, max(0, math.ceil(-math.log10(spacing / 10.0) - 1e-9))))


def format_z(z: float, spacing: float | None, unit: str | None = None) -> str:
    """``z`` printed to the resolution of its samples (a tenth of ``spacing``), with its unit."""
    text = f"{z:.{z_decimals(spacing if spacing is not None else math.nan)}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return f"{text} {unit}" if unit and unit != "index" else text


_BG = (255, 255, 255)
_AXIS = (40, 40, 40)
_GRID = (225, 225, 225)
_CURVE = (180, 110, 30)  # blue-ish (BGR)
_PEAK_OK = (40, 160, 40)  # green
_PEAK_FAIL = (30, 30, 210)  # red
_TRUTH = (235, 205, 225)  # light violet: unlike every line colour
_MODEL = (0, 140, 250)  # orange
_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick positions (1, 2, 2.5, 5 x 10^k steps) covering ``[lo, hi]``, about ``target`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    span = hi - lo
    if span == 0:
        span = abs(lo) or 1.0
        lo, hi = lo - span / 2, hi + span / 2
    raw = span / max(1, target)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(v) < 1e-12 * step else v)
        v += step
    return ticks


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.2e}"
    return f"{v:.6g}"


def _peak_z_state(peak: Any) -> tuple[float | None, str | None]:
    if peak is None:
        return None, None
    if isinstance(peak, int | float | np.floating | np.integer):
        return float(peak), None
    z = getattr(peak, "z", None)
    return (float(z) if z is not None else None), getattr(peak, "state", None)


def render_curve(
    z: Any,
    scores: Any,
    *,
    z_unit: str | None,
    peak: Any = None,
    title: str = "focus curve",
    measure: str | None = None,
    truth: dict[str, Any] | None = None,
    size: tuple[int, int] = (800, 500),
    model: Any = None,
    mode: str | None = None,
) -> np.ndarray:
    """Draw a focus curve into a BGR image.

    Parameters
    ----------
    z : array_like of float
        Sample positions in ``z_unit`` (any order; drawn sorted).
    scores : array_like of float
        Focus score of each sample.
    z_unit : str or None
        Unit shown on the x axis (``"um"``, ``"mm"``, ``"step"``, ``"index"``).
    peak : float, PeakFit, PlaneResult or None
        The fitted best focus (in ``z_unit``) to mark with a vertical line; its ``state`` (when
        it has one) colours it green (focused) or red (failed).
    title : str
        Title drawn above the plot.
    measure : str, optional
        Measure name for the y-axis label.
    truth : dict, optional
        ``{"z": float, "tolerance": float}`` in ``z_unit``: drawn as a shaded band.
    size : (width, height)
        Image size in pixels (at least 320 x 200).
    model : callable or (array_like, array_like), optional
        The fitted peak model, drawn as a line: ``model(z) -> score`` or ``(z, score)`` points.
    mode : {"max", "brightfield"}, optional
        ``"brightfield"`` labels the marked position as the contrast minimum, not a peak;
        default: the ``mode`` of ``peak`` when it has one, else ``"max"``.

    A legend names what is drawn (samples, model, peak or minimum, true focus band); z labels
    are printed to a tenth of the median sample spacing.

    Returns
    -------
    ndarray
        ``height x width x 3`` uint8 BGR image.
    """
    import cv2

    z_arr = np.asarray(z, dtype=np.float64).ravel()
    s_arr = np.asarray(scores, dtype=np.float64).ravel()
    if z_arr.size != s_arr.size:
        raise InputError(f"z has {z_arr.size} values but scores has {s_arr.size}: give one score per z")
    width, height = (int(v) for v in size)
    if width < 320 or height < 200:
        raise InputError(f"size {size} is too small: give at least (320, 200) pixels")
    img = np.full((height, width, 3), _BG, np.uint8)
    left, right, top, bottom = 90, 25, 45, 60
    x0, x1, y0, y1 = left, width - right, top, height - bottom  # plot box (y0 top)

    ok = np.isfinite(z_arr) & np.isfinite(s_arr)
    zs, ss = z_arr[ok], s_arr[ok]
    order = np.argsort(zs, kind="stable")
    zs, ss = zs[order], ss[order]
    pz, pstate = _peak_z_state(peak)

    if zs.size:
        zlo, zhi = float(zs.min()), float(zs.max())
        slo, shi = float(ss.min()), float(ss.max())
    else:
        zlo, zhi, slo, shi = 0.0, 1.0, 0.0, 1.0
    if zhi == zlo:
        zlo, zhi = zlo - 0.5, zhi + 0.5
    if shi == slo:
        pad = abs(shi) * 0.05 or 1.0
        slo, shi = slo - pad, shi + pad
    pad_s = 0.06 * (shi - slo)
    slo, shi = slo - pad_s, shi + pad_s

    def px(v: float) -> int:
        return round(float(x0 + (v - zlo) / (zhi - zlo) * (x1 - x0)))

    def py(v: float) -> int:
        return round(float(y1 - (v - slo) / (shi - slo) * (y1 - y0)))

    # truth band
    if truth is not None and truth.get("z") is not None:
        tz, tol = float(truth["z"]), float(truth.get("tolerance") or 0.0)
        a, b = max(zlo, tz - tol), min(zhi, tz + tol)
        if a <= b:
            cv2.rectangle(img, (px(a), y0), (max(px(b), px(a) + 1), y1), _TRUTH, -1)

    # grid, ticks and labels
    for t in nice_ticks(zlo, zhi):
        x = px(t)
        cv2.line(img, (x, y0), (x, y1), _GRID, 1)
        cv2.line(img, (x, y1), (x, y1 + 5), _AXIS, 1)
        label = _fmt(t)
        (tw, th), _ = cv2.getTextSize(label, _FONT, 0.42, 1)
        cv2.putText(img, label, (x - tw // 2, y1 + 8 + th), _FONT, 0.42, _AXIS, 1, cv2.LINE_AA)
    for t in nice_ticks(slo, shi, 5):
        y = py(t)
        cv2.line(img, (x0, y), (x1, y), _GRID, 1)
        cv2.line(img, (x0 - 5, y), (x0, y), _AXIS, 1)
        label = _fmt(t)
        (tw, th), _ = cv2.getTextSize(label, _FONT, 0.42, 1)
        cv2.putText(img, label, (x0 - 8 - tw, y + th // 2), _FONT, 0.42, _AXIS, 1, cv2.LINE_AA)
    cv2.rectangle(img, (x0, y0), (x1, y1), _AXIS, 1)

    xlabel = f"z ({z_unit})" if z_unit else "z (frame index)"
    (tw, th), _ = cv2.getTextSize(xlabel, _FONT, 0.5, 1)
    cv2.putText(img, xlabel, ((x0 + x1 - tw) // 2, height - 12), _FONT, 0.5, _AXIS, 1, cv2.LINE_AA)
    ylabel = f"score ({measure})" if measure else "score"
    (tw, th), _ = cv2.getTextSize(ylabel, _FONT, 0.5, 1)
    strip = np.full((th + 8, tw + 4, 3), _BG, np.uint8)
    cv2.putText(strip, ylabel, (2, th + 2), _FONT, 0.5, _AXIS, 1, cv2.LINE_AA)
    strip = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    sy = max(0, (y0 + y1 - strip.shape[0]) // 2)
    sh = min(strip.shape[0], height - sy)
    img[sy : sy + sh, 4 : 4 + strip.shape[1]] = strip[:sh]
    (tw, th), _ = cv2.getTextSize(title, _FONT, 0.6, 1)
    cv2.putText(img, title, (max(4, (width - tw) // 2), 28), _FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)

    legend: list[tuple[str, tuple[int, int, int], str]] = []
    if truth is not None and truth.get("z") is not None:
        legend.append(("true focus +- tolerance", _TRUTH, "band"))

    # the curve and its samples
    if zs.size:
        pts = np.array([[px(a), py(b)] for a, b in zip(zs, ss, strict=True)], np.int32)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, _CURVE, 1, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, (int(p[0]), int(p[1])), 3, _CURVE, -1, cv2.LINE_AA)
        legend.append((f"samples ({zs.size})", _CURVE, "dot"))

    # the fitted model
    mz, ms = _model_points(model, zlo, zhi)
    if mz.size >= 2:
        keep = np.isfinite(ms)
        mpts = np.array(
            [[px(a), py(min(max(b, slo), shi))] for a, b in zip(mz[keep], ms[keep], strict=True)], np.int32
        )
        if len(mpts) >= 2:
            cv2.polylines(img, [mpts.reshape(-1, 1, 2)], False, _MODEL, 2, cv2.LINE_AA)
            legend.append(("fitted model", _MODEL, "line"))

    # the fitted peak (or, in brightfield, the contrast minimum)
    if mode is None:
        mode = getattr(peak, "mode", None) or "max"
    what = "contrast minimum" if mode == "brightfield" else "peak"
    if pz is not None and math.isfinite(pz):
        colour = _PEAK_FAIL if pstate == "failed" else _PEAK_OK
        x = px(min(max(pz, zlo), zhi))
        cv2.line(img, (x, y0), (x, y1), colour, 2, cv2.LINE_AA)
        spacing = float(np.median(np.diff(np.unique(zs)))) if np.unique(zs).size >= 2 else None
        label = f"{what} z={format_z(pz, spacing, z_unit)}" + (f" ({pstate})" if pstate else "")
        (tw, th), _ = cv2.getTextSize(label, _FONT, 0.45, 1)
        lx = x + 6 if x + 6 + tw < x1 else x - 6 - tw
        cv2.putText(img, label, (lx, y0 + th + 6), _FONT, 0.45, colour, 1, cv2.LINE_AA)
        legend.append((f"fitted {what}" + (f" ({pstate})" if pstate else ""), colour, "line"))
    _draw_legend(img, legend, x0 + 8, y0 + 26)
    return img


def _model_points(model: Any, zlo: float, zhi: float) -> tuple[np.ndarray, np.ndarray]:
    if model is None:
        return np.empty(0), np.empty(0)
    if callable(model):
        mz = np.linspace(zlo, zhi, 200)
        return mz, np.asarray([float(model(v)) for v in mz], dtype=np.float64)
    try:
        mz, ms = (np.asarray(a, dtype=np.float64).ravel() for a in model)
    except (TypeError, ValueError):
        raise InputError("model must be a callable z -> score or a (z, score) pair of arrays") from None
    if mz.size != ms.size:
        raise InputError(f"model has {mz.size} z values but {ms.size} scores: give one score per z")
    order = np.argsort(mz, kind="stable")
    return mz[order], ms[order]


def _draw_legend(img: np.ndarray, items: list[tuple[str, tuple[int, int, int], str]], x: int, y: int) -> None:
    """A boxed legend at (x, y) (top left): one row per drawn element."""
    import cv2

    if not items:
        return
    sizes = [cv2.getTextSize(text, _FONT, 0.42, 1)[0] for text, _, _ in items]
    row = max(h for _, h in sizes) + 8
    box_w = 34 + max(w for w, _ in sizes) + 8
    box_h = row * len(items) + 6
    sub = img[y - 4 : y - 4 + box_h, x - 4 : x - 4 + box_w]
    sub[...] = (0.15 * sub + 0.85 * np.array(_BG)).astype(np.uint8)
    cv2.rectangle(img, (x - 4, y - 4), (x - 4 + box_w, y - 4 + box_h), _GRID, 1)
    for i, (text, colour, kind) in enumerate(items):
        cy = y + i * row + row // 2
        if kind == "band":
            cv2.rectangle(img, (x, cy - 5), (x + 24, cy + 5), colour, -1)
        elif kind == "dot":
            cv2.line(img, (x, cy), (x + 24, cy), colour, 1, cv2.LINE_AA)
            cv2.circle(img, (x + 12, cy), 3, colour, -1, cv2.LINE_AA)
        else:
            cv2.line(img, (x, cy), (x + 24, cy), colour, 2, cv2.LINE_AA)
        cv2.putText(img, text, (x + 32, cy + 5), _FONT, 0.42, _AXIS, 1, cv2.LINE_AA)


def save_curve_png(path: str | os.PathLike[str], z: Any, scores: Any, **kwargs: Any) -> Path:
    """Render a focus curve (see :func:`render_curve`) and write it as a PNG.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        When the file cannot be written (missing folder, no permission) or the name does not
        end in ``.png``.
    """
    import cv2

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise InputError(f"plot file {out} must end in .png, e.g. curve.png")
    img = render_curve(z, scores, **kwargs)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - encoding a BGR uint8 image does not fail
        raise InputError(f"cannot encode the plot for {out}")
    try:
        out.write_bytes(buf.tobytes())
    except OSError as exc:
        raise InputError(f"cannot write plot {out}: {exc.strerror or exc}; choose a writable path") from None
    return out
