"""Best plane per region and a fitted focal plane (tilt), for slanted samples. Pure numpy.

A slanted sample (a tilted slide, a PCB at an angle) has no single best plane: each region of
the frame is sharpest at its own ``z``. :func:`fit_regions` takes the focus maps of a sampled
focus curve (one ``rows x cols`` map of scores per sample, :func:`focuscam.measures.focus_map`),
fits the peak of every region's curve (:func:`focuscam.search.peak.fit_peak`, the same fit and
significance rule as the whole frame) and fits a plane ``z = z0 + tx * (x - xc) + ty * (y - yc)``
by least squares through the regions that focused (centres in pixels, or in um with a known
pixel size).

Quality: the plane's residual scatter, with a floor of one sample step / sqrt(12) (a region's
peak cannot be known better than its sampling allows), gives standard errors of ``tx`` and
``ty``; the tilt is *significant* when either is at least :data:`TILT_MIN_T` standard errors
from zero. Fewer than three focused regions (or all in one line) fit no plane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .search.peak import fit_peak
from .types import json_number

__all__ = ["TILT_MIN_T", "Region", "RegionsResult", "Tilt", "fit_plane", "fit_regions", "tile_boxes"]

#: A tilt component is significant at this many standard errors (about 0.3 % two-sided for
#: Gaussian errors: a level tilt rarely looks tilted).
TILT_MIN_T = 3.0
#: Micrometres per unit, for z units that are lengths (tilts are reported in um per um or px).
UM_PER_UNIT = {"um": 1.0, "mm": 1000.0, "nm": 1e-3}


@dataclass(frozen=True)
class Region:
    """One grid region and the best plane of its own focus curve.

    Attributes
    ----------
    row, col : int
        Position in the grid (0-based, row 0 at the top).
    box : (int, int, int, int)
        ``(x, y, w, h)`` of the region in frame pixels (the tiling of ``focus_map``).
    z : float
        Fitted best-focus position of the region, in ``z_unit``.
    index : int
        Index of the region's best sample.
    state : str
        ``"focused"`` or ``"failed"`` (flat, insignificant or at the edge of the samples).
    confidence : float
        In [0, 1], of the region's peak fit.
    reason : str
        The region's peak-fit reason.
    """

    row: int
    col: int
    box: tuple[int, int, int, int]
    z: float
    index: int
    state: str
    confidence: float
    reason: str

    @property
    def centre(self) -> tuple[float, float]:
        """Centre ``(x, y)`` in frame pixels."""
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: row, col, box [x, y, w, h], centre [x, y] (px), z, index, state, ..."""
        return {
            "row": self.row,
            "col": self.col,
            "box": list(self.box),
            "centre": list(self.centre),
            "z": json_number(self.z),
            "index": self.index,
            "state": self.state,
            "confidence": self.confidence,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Tilt:
    """The focal plane fitted through the focused regions.

    Attributes
    ----------
    x, y : float or None
        Slope of best focus along x (to the right) and y (down): ``z`` change per unit of
        lateral distance (see ``unit``); None when the regions do not span that axis.
    z0 : float
        The plane's ``z`` at the centre of the scored area, in ``z_unit``.
    unit : str
        ``"um/um"`` (z and pixel size known in um), ``"um/px"`` (no pixel size: per pixel), or
        ``"<z_unit>/px"`` / ``"<z_unit>/um"`` for stacks whose z is not a length.
    z_unit : str
        Unit of ``z0`` and ``rms``.
    se_x, se_y : float or None
        Standard errors of ``x`` and ``y``.
    rms : float
        Root-mean-square residual of the focused regions about the plane, in ``z_unit``.
    regions : int
        Number of focused regions the plane was fitted through.
    significant : bool
        At least one slope is :data:`TILT_MIN_T` standard errors from zero.
    span : float
        How much best focus changes across the scored area along the plane, in ``z_unit``.
    note : str
        One line: what was fitted and whether the tilt is significant.
    """

    x: float | None
    y: float | None
    z0: float
    unit: str
    z_unit: str
    se_x: float | None
    se_y: float | None
    rms: float
    regions: int
    significant: bool
    span: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: x, y, unit, z0, z_unit, se_x, se_y, rms, regions, significant, span, note."""
        return {
            "x": json_number(self.x),
            "y": json_number(self.y),
            "unit": self.unit,
            "z0": json_number(self.z0),
            "z_unit": self.z_unit,
            "se_x": json_number(self.se_x),
            "se_y": json_number(self.se_y),
            "rms": json_number(self.rms),
            "regions": self.regions,
            "significant": self.significant,
            "span": json_number(self.span),
            "note": self.note,
        }


@dataclass(frozen=True)
class RegionsResult:
    """Per-region best planes and the fitted tilt (None when no plane could be fitted).

    Attributes
    ----------
    grid : (int, int)
        ``(rows, cols)``.
    regions : list of Region
        Row by row.
    tilt : Tilt or None
    note : str
        Why there is no tilt, or the tilt's note.
    z_unit : str
        Unit of every region's ``z`` (``"um"`` for stacks in um, mm or nm).
    """

    grid: tuple[int, int]
    regions: list[Region]
    tilt: Tilt | None
    note: str
    z_unit: str = "um"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``grid``, ``regions`` (list of dicts), ``tilt`` (dict or None), ``note``."""
        return {
            "grid": list(self.grid),
            "regions": [r.to_dict() for r in self.regions],
            "tilt": None if self.tilt is None else self.tilt.to_dict(),
            "note": self.note,
            "z_unit": self.z_unit,
        }


def tile_boxes(box: Sequence[int], grid: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """The ``(x, y, w, h)`` of every tile of ``box`` cut into ``grid``, row by row.

    The same tiling as :func:`focuscam.measures.focus_map`: tile ``(r, c)`` covers rows
    ``[r*h//rows, (r+1)*h//rows)`` and columns ``[c*w//cols, (c+1)*w//cols)`` of the box.
    """
    x, y, w, h = (int(v) for v in box)
    rows, cols = (int(v) for v in grid)
    out = []
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c * w // cols, (c + 1) * w // cols
            y0, y1 = r * h // rows, (r + 1) * h // rows
            out.append((x + x0, y + y0, x1 - x0, y1 - y0))
    return out


def fit_plane(
    points: Sequence[tuple[float, float, float]],
    *,
    centre: tuple[float, float],
    size: tuple[float, float],
    z_floor: float,
    z_unit: str,
    lateral: str,
) -> Tilt | None:
    """Least-squares plane through ``(x, y, z)`` points; None when it is not determined.

    Not determined: fewer than 3 points, all at one place, or all on one slanted line. Points on
    one row (or column) of the grid determine the slope along it only (the other is None).

    Parameters
    ----------
    points : sequence of (x, y, z)
        Region centres (in ``lateral`` units) and their best-focus ``z`` (``z_unit``).
    centre : (float, float)
        Where ``z0`` is evaluated (the centre of the scored area).
    size : (float, float)
        Width and height of the scored area (``lateral`` units), for ``span``.
    z_floor : float
        The least standard deviation of one region's ``z`` (e.g. sample step / sqrt(12)).
    z_unit, lateral : str
        Units of ``z`` and of ``x``/``y`` (``"um"`` or ``"px"``).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    n = len(pts)
    if n < 3:
        return None
    dx, dy = pts[:, 0] - centre[0], pts[:, 1] - centre[1]
    columns = [np.ones(n)]
    axes = []
    for name, d in (("x", dx), ("y", dy)):
        if np.ptp(d) > 0:
            columns.append(d)
            axes.append(name)
    if not axes:
        return None
    a = np.stack(columns, axis=1)
    if np.linalg.matrix_rank(a) < a.shape[1]:
        return None  # the points lie on one slanted line: a plane through them is not determined
    coef, *_ = np.linalg.lstsq(a, pts[:, 2], rcond=None)
    resid = pts[:, 2] - a @ coef
    rms = float(np.sqrt(np.mean(resid**2)))
    dof = n - a.shape[1]
    scatter = float(np.sqrt(np.sum(resid**2) / dof)) if dof > 0 else 0.0
    sigma = max(scatter, z_floor)
    cov = sigma**2 * np.linalg.inv(a.T @ a)
    slopes: dict[str, float | None] = {"x": None, "y": None}
    errors: dict[str, float | None] = {"x": None, "y": None}
    for i, name in enumerate(axes, start=1):
        slopes[name] = float(coef[i])
        errors[name] = float(math.sqrt(cov[i, i]))
    t = {k: abs(slopes[k]) / errors[k] for k in axes if errors[k]}  # type: ignore[operator]
    significant = bool(t) and max(t.values()) >= TILT_MIN_T
    span = sum(abs(slopes[k] or 0.0) * s for k, s in zip(("x", "y"), size, strict=True))
    unit = f"{z_unit}/{lateral}"
    parts = [f"{k} {slopes[k]:.3g} +- {errors[k]:.2g} {unit}" for k in axes]
    if significant:
        verdict = (
            f"tilt significant (>= {TILT_MIN_T:g} standard errors): best focus changes by "
            f"{span:.3g} {z_unit} across the area"
        )
    else:
        verdict = (
            f"no significant tilt (< {TILT_MIN_T:g} standard errors): the regions agree with a level plane"
        )
    note = f"plane through {n} focused regions: {', '.join(parts)}; {verdict}"
    return Tilt(
        x=slopes["x"],
        y=slopes["y"],
        z0=float(coef[0]),
        unit=unit,
        z_unit=z_unit,
        se_x=errors["x"],
        se_y=errors["y"],
        rms=rms,
        regions=n,
        significant=significant,
        span=float(span),
        note=note,
    )


def _step(z: np.ndarray) -> float:
    """The median spacing of the distinct sample positions (0.0 for fewer than two)."""
    distinct = np.unique(z)
    return float(np.median(np.diff(distinct))) if distinct.size > 1 else 0.0


def fit_regions(
    z: Sequence[float],
    maps: Any,
    box: Sequence[int],
    *,
    mode: str = "max",
    z_unit: str = "um",
    pixel_um: float | None = None,
) -> RegionsResult:
    """Best plane per region and the fitted focal plane, from the focus maps of a sampled curve.

    Parameters
    ----------
    z : sequence of float
        Position of every sample, in ``z_unit`` (any order, repeats allowed).
    maps : array_like, shape (samples, rows, cols)
        The focus map of every sample (``focus_map`` of its frame on ``box``).
    box : (x, y, w, h)
        The scored area in pixels (the ROI, or the whole frame).
    mode : {"max", "brightfield"}
        As for :func:`focuscam.search.peak.fit_peak`.
    z_unit : str
        Unit of ``z``. Lengths (um, mm, nm) are reported in um.
    pixel_um : float or None
        Pixel size at the sample in um: tilts in um per um; None: per pixel.

    Returns
    -------
    RegionsResult
    """
    zs = np.asarray(z, dtype=np.float64)
    fm = np.asarray(maps, dtype=np.float64)
    if fm.ndim != 3 or fm.shape[0] != zs.size:
        raise InputError(
            f"maps of shape {fm.shape} do not match {zs.size} samples: give (samples, rows, cols)"
        )
    if pixel_um is not None and not (math.isfinite(pixel_um) and pixel_um > 0):
        raise InputError(f"pixel size {pixel_um!r} um must be a positive number")
    rows, cols = fm.shape[1:]
    scale = UM_PER_UNIT.get(z_unit, 1.0)
    out_unit = "um" if z_unit in UM_PER_UNIT else z_unit
    zs_out = zs * scale
    regions = []
    for (r, c), tile in zip(np.ndindex(rows, cols), tile_boxes(box, (rows, cols)), strict=True):
        fit = fit_peak(zs_out, fm[:, r, c], mode=mode)
        regions.append(Region(r, c, tile, fit.z, fit.index, fit.state, fit.confidence, fit.reason))
    per = 1.0 if pixel_um is None else float(pixel_um)
    lateral = "px" if pixel_um is None else "um"
    focused = [g for g in regions if g.state == "focused"]
    points = [(g.centre[0] * per, g.centre[1] * per, g.z) for g in focused]
    x, y, w, h = (float(v) for v in box)
    tilt = fit_plane(
        points,
        centre=((x + w / 2) * per, (y + h / 2) * per),
        size=(w * per, h * per),
        z_floor=_step(zs_out) / math.sqrt(12.0),
        z_unit=out_unit,
        lateral=lateral,
    )
    if tilt is not None:
        note = tilt.note
    else:
        note = (
            f"no plane fitted: {len(focused)} of {rows * cols} regions focused "
            "(need 3 not in one line); use a coarser grid or more samples"
        )
    return RegionsResult((rows, cols), regions, tilt, note, out_unit)
