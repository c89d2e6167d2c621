"""Calibrate a rig's focus-curve width: one sweep, one peak-model fit.

The width of the focus curve (how fast the score falls with defocus) is a property of the
optics and the measure, not of the sample position: measured once per rig (objective, camera,
measure), it lets the default search strategy (``model``) plan its coarse steps and fit its
peak model with one free parameter fewer (:mod:`focuscam.search.significance`).

:func:`calibrate_curve` fits the peak model of :func:`focuscam.search.significance.fit_model`
to a sampled curve and returns a :class:`Calibration`; ``curve_width_um`` is the sigma of the
Gaussian with the same full width at half maximum. :func:`calibrate_stack` scores a recorded
z-sweep (as ``focuscam select`` does) and calibrates on it; :func:`write_curve_width` stores the
result in a rig file's ``[autofocus] curve_width_um``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["Calibration", "calibrate_curve", "calibrate_stack", "write_curve_width"]


@dataclass(frozen=True)
class Calibration:
    """A measured focus-curve width.

    Attributes
    ----------
    curve_width_um : float
        Sigma (um) of the Gaussian with the curve's FWHM: the rig key ``curve_width_um``.
    fwhm_um : float
        Full width at half maximum of the fitted peak (um).
    shape : str
        The best-fitting peak shape (``gaussian``, ``lorentzian`` or ``cusp``).
    z_peak_um : float
        The fitted peak centre (um).
    snr : float
        Peak height over the fit's residual noise.
    significant : bool
        The peak passed the one significance rule (a width from a peak that is not
        significant is not trustworthy; :func:`write_curve_width` refuses it).
    samples : int
        Samples fitted.
    measure : str
        The focus measure of the curve.
    """

    curve_width_um: float
    fwhm_um: float
    shape: str
    z_peak_um: float
    snr: float
    significant: bool
    samples: int
    measure: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def calibrate_curve(z_um: Any, scores: Any, *, mode: str = "max", measure: str = "") -> Calibration:
    """Fit the peak model to a swept curve (``z`` in um) and return its width.

    Raises
    ------
    InputError
        Fewer than 7 samples, or no peak model fits.
    """
    from .search.significance import fit_model, test_peak

    z = np.asarray(z_um, dtype=float)
    s = np.asarray(scores, dtype=float)
    if (
        z.ndim != 1
        or z.shape != s.shape
        or z.size < 7
        or not np.all(np.isfinite(z))
        or not np.all(np.isfinite(s))
    ):
        raise InputError(
            "calibration needs a sweep of at least 7 finite (z, score) samples: sweep more planes"
        )
    order = np.argsort(z)
    z, s = z[order], s[order]
    sig = test_peak(z, s, mode=mode)
    model = fit_model(
        z, s if mode == "max" else -s, min_width=float(np.min(np.diff(np.unique(z)))) / 4, slope=mode != "max"
    )
    if model is None:
        raise InputError("no peak model fits the sweep: is there a focal plane inside the range?")
    return Calibration(
        curve_width_um=float(model.sigma),
        fwhm_um=float(model.fwhm),
        shape=model.shape,
        z_peak_um=float(model.z),
        snr=float(sig.snr),
        significant=bool(sig.significant),
        samples=int(z.size),
        measure=measure,
    )


def calibrate_stack(
    stack: Any, measure: str | None = None, roi: Any = None, bin: int | str = "auto", mode: str | None = None
) -> Calibration:
    """Score every plane of a z-sweep stack and calibrate the curve width on it (z in um).

    Without ``measure`` the measure is chosen too: the candidate of
    :data:`focuscam.select.AUTO_MEASURES` whose curve is the most significant
    (:func:`focuscam.select.choose_measure`; the default measure when none focuses).
    """
    from ._measure_choice import default_measure
    from .select import choose_measure, select_plane
    from .stacks import Stack, load_stack
    from .twin import z_scale_um

    st = stack if isinstance(stack, Stack) else load_stack(stack)
    if mode is None:
        mode = "brightfield" if (st.modality or "").lower() == "brightfield" else "max"
    z = np.asarray(st.z, dtype=float)
    if st.z_unit in (None, "index") or not np.all(np.isfinite(z)):
        raise InputError(f"stack {st.name!r} has no z positions in um or mm: calibration needs a z-sweep")
    if measure is None:
        # the rig's measure: the candidate whose curve on this sweep is the most significant
        res, _ = choose_measure(st, roi=roi, bin=bin, mode=mode)
        if not res.focused:
            res = select_plane(st, default_measure(mode), roi=roi, bin=bin, mode=mode)
    else:
        res = select_plane(st, measure, roi=roi, bin=bin, mode=mode)
    return calibrate_curve(z * z_scale_um(st.z_unit), res.scores, mode=mode, measure=res.measure)


_TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$", re.MULTILINE)


def write_curve_width(path: str | os.PathLike[str], width_um: float, measure: str | None = None) -> Path:
    """Set ``[autofocus] curve_width_um`` (and ``measure`` when given) in the rig file at ``path``
    (created when missing).

    Only those lines change (comments and the other keys are kept). The new file is validated
    with :func:`focuscam.rig.parse_rig` before it replaces the old one.
    """
    from .rig import parse_rig

    if not (isinstance(width_um, int | float) and math.isfinite(width_um) and width_um > 0):
        raise InputError(f"curve width {width_um!r} um must be a number > 0")
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    text = _set_key(text, "curve_width_um", f"{width_um:.6g}")
    if measure is not None:
        text = _set_key(text, "measure", f'"{measure}"')
    import tomllib

    try:
        parse_rig(tomllib.loads(text), source=str(path), path=path)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc}): fix the file first") from None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _set_key(text: str, key: str, value: str) -> str:
    """``text`` with ``key = value`` set in its ``[autofocus]`` table (added when missing)."""
    line = f"{key} = {value}"
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=.*$", re.MULTILINE)
    tables = list(_TABLE.finditer(text))
    start = next((m for m in tables if m.group(1).strip() == "autofocus"), None)
    if start is None:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + f"[autofocus]\n{line}\n"
    else:
        after = [m.start() for m in tables if m.start() > start.start()]
        end = after[0] if after else len(text)
        body = text[start.end() : end]
        if pattern.search(body):
            body = pattern.sub(line, body, count=1)
        else:
            body = "\n" + line + body
        text = text[: start.end()] + body + text[end:]
    return text
