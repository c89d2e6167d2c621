"""The peak fit that every search strategy and plane selection end with.

:func:`fit_peak` takes a sampled focus curve (positions ``z`` and scores) and returns a
:class:`PeakFit`: the best sample, a sub-step estimate of the best-focus position, and an honest
``"focused"``/``"failed"`` state with a confidence. Pure numpy, no I/O.

How it decides
--------------
1. Samples are sorted by ``z`` (any order may be given; ``index`` refers to the input order).
2. The curve's noise ``sigma`` is estimated robustly from second differences,
   ``MAD(s[k-1] - 2 s[k] + s[k+1]) / 0.6745 / sqrt(6)`` (white noise of std ``sigma`` gives
   second differences of std ``sqrt(6) sigma``); a smooth peak only adds a few large values
   that the median ignores.
3. The peak's height is measured against the curve's median. It is significant when the height
   is at least ``min_snr`` noise sigmas (needs 7 samples or more) and at least ``min_rel`` of the
   peak value; otherwise the fit fails ("flat curve" / "peak not significant").
4. A peak on the first or last sample fails with ``at_edge=True`` (and ``edge_side`` -1/+1),
   so strategies can re-centre their window.
5. The position is refined below the sample step: a Gaussian (a parabola through the logarithm
   of the scores above the curve's floor) over the samples above half the peak height around the
   best sample (3 to 5 of them), falling back to a 3-point parabola, then to the sample itself.
   The fit never leaves the span of the samples it used.

``mode="brightfield"``: the focal plane of a transparent sample in brightfield is a contrast
*minimum* between two maxima. The fit takes the sample with the deepest dip below the lower of
the highest scores on its two sides, and refines it with a parabola.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..types import FocusState

__all__ = ["MODES", "PeakFit", "fit_peak", "noise_sigma"]

#: Peak-fit modes.
MODES = ("max", "brightfield")

_MAX_WINDOW = 5


@dataclass(frozen=True)
class PeakFit:
    """The result of :func:`fit_peak`.

    Attributes
    ----------
    index : int
        Index (in the order given to :func:`fit_peak`) of the best sample: the highest score in
        ``"max"`` mode, the dip in ``"brightfield"`` mode.
    z : float
        Fitted best-focus position, sub-step, in the unit of the ``z`` given (e.g. um).
    state : str
        ``"focused"`` or ``"failed"``.
    confidence : float
        In [0, 1]: how clearly the peak stands out of the curve's noise (0 for a flat curve; 1
        at ``4 * min_snr`` noise sigmas or more); halved when the peak is at an edge.
    reason : str
        Why it failed, or how the peak was found.
    at_edge : bool
        True when the best sample is the first or last one in ``z`` order.
    edge_side : int
        -1 when the best sample is at the low-``z`` end, +1 at the high end, 0 otherwise.
    z_sample : float
        ``z`` of the best sample (same unit as ``z``).
    mode : str
        ``"max"`` or ``"brightfield"``.
    method : str
        How ``z`` was refined: ``"gaussian"``, ``"parabola"`` or ``"sample"``.
    snr : float
        Peak height (or dip depth) in noise sigmas; ``inf`` on a noiseless curve.
    noise : float
        The estimated noise sigma of the scores (score units).
    """

    index: int
    z: float
    state: str
    confidence: float
    reason: str
    at_edge: bool
    edge_side: int = 0
    z_sample: float = math.nan
    mode: str = "max"
    method: str = "sample"
    snr: float = 0.0
    noise: float = 0.0

    @property
    def focused(self) -> bool:
        """True when ``state == "focused"``."""
        return self.state == FocusState.FOCUSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats become None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


def noise_sigma(scores: np.ndarray) -> float:
    """Robust noise sigma of a sampled curve from the MAD of its second differences.

    Parameters
    ----------
    scores : ndarray
        Scores in ``z`` order (at least 3).

    Returns
    -------
    float
        Estimated standard deviation of white noise on the scores (score units).
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size < 3:
        return 0.0
    d2 = s[:-2] - 2.0 * s[1:-1] + s[2:]
    mad = float(np.median(np.abs(d2 - np.median(d2))))
    return mad / 0.6745 / math.sqrt(6.0)


def _validate(
    z: Any, scores: Any, mode: str, min_snr: float, min_rel: float
) -> tuple[np.ndarray, np.ndarray]:
    if mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}: use 'max' or 'brightfield'")
    try:
        z_arr = np.asarray(z, dtype=np.float64)
        s_arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("z and scores must be sequences of numbers") from None
    if z_arr.ndim != 1 or s_arr.ndim != 1:
        raise InputError(f"z and scores must be 1-D, got shapes {z_arr.shape} and {s_arr.shape}")
    if z_arr.size != s_arr.size:
        raise InputError(f"z has {z_arr.size} values but scores has {s_arr.size}: give one score per z")
    if z_arr.size == 0:
        raise InputError("z and scores are empty: give at least one sample")
    if not np.all(np.isfinite(z_arr)):
        raise InputError("z holds NaN or infinite values: give finite positions")
    if not np.all(np.isfinite(s_arr)):
        raise InputError("scores hold NaN or infinite values: give finite scores")
    if not (min_snr >= 0 and math.isfinite(min_snr)):
        raise InputError(f"min_snr {min_snr!r} must be a finite number >= 0")
    if not (0 <= min_rel < 1):
        raise InputError(f"min_rel {min_rel!r} must be in [0, 1)")
    return z_arr, s_arr


def _parabola_vertex(x: np.ndarray, y: np.ndarray) -> float | None:
    """Vertex of the least-squares parabola through (x, y) when it opens downwards, else None."""
    if x.size < 3 or np.ptp(x) == 0:
        return None
    x0 = float(x.mean())
    scale = float(np.ptp(x)) or 1.0
    u = (x - x0) / scale
    a, b, _ = np.polyfit(u, y, 2)
    if not a < 0:
        return None
    return x0 + scale * (-b / (2.0 * a))


def _refine_max(zs: np.ndarray, ss: np.ndarray, i: int, floor: float) -> tuple[float, str]:
    """Sub-step position of the maximum at sorted index ``i`` (not at an edge)."""
    n = zs.size
    height = ss[i] - floor
    lo = hi = i
    if height > 0:
        half = floor + 0.5 * height
        while lo > 0 and ss[lo - 1] > half and i - lo < _MAX_WINDOW // 2:
            lo -= 1
        while hi < n - 1 and ss[hi + 1] > half and hi - i < _MAX_WINDOW // 2:
            hi += 1
    lo, hi = min(lo, i - 1), max(hi, i + 1)
    x, y = zs[lo : hi + 1], ss[lo : hi + 1]
    lifted = y - floor
    if height > 0 and np.all(lifted > 0):
        v = _parabola_vertex(x, np.log(lifted))
        if v is not None and x[0] <= v <= x[-1]:
            return float(v), "gaussian"
    v = _parabola_vertex(zs[i - 1 : i + 2], ss[i - 1 : i + 2])
    if v is not None and zs[i - 1] <= v <= zs[i + 1]:
        return float(v), "parabola"
    return float(zs[i]), "sample"


def _refine_min(zs: np.ndarray, ss: np.ndarray, i: int) -> tuple[float, str]:
    """Sub-step position of the dip at sorted index ``i`` (not at an edge)."""
    v = _parabola_vertex(zs[i - 1 : i + 2], -ss[i - 1 : i + 2])
    if v is not None and zs[i - 1] <= v <= zs[i + 1]:
        return float(v), "parabola"
    return float(zs[i]), "sample"


def fit_peak(
    z: Any,
    scores: Any,
    *,
    mode: str = "max",
    min_snr: float = 5.0,
    min_rel: float = 0.01,
) -> PeakFit:
    """Fit the best-focus position of a sampled focus curve, and say honestly whether it is one.

    Parameters
    ----------
    z : array_like of float
        Sample positions (any unit, e.g. um; any order, duplicates allowed).
    scores : array_like of float
        Focus score of every sample (higher = sharper).
    mode : {"max", "brightfield"}
        ``"max"``: best focus is the score maximum. ``"brightfield"``: best focus is the
        contrast minimum between two maxima.
    min_snr : float
        Least peak height (dip depth) in noise sigmas for ``"focused"``; applied when there are
        at least 7 samples (fewer give no usable noise estimate).
    min_rel : float
        Least peak height (dip depth) relative to the peak score (flank score) for ``"focused"``.

    Returns
    -------
    PeakFit
        ``z`` is in the unit of the ``z`` given. With fewer than 3 samples the fit fails
        ("fewer than 3 samples") and returns the best sample.

    Raises
    ------
    InputError
        Mismatched lengths, empty input, NaN or infinite values, unknown mode.
    """
    z_arr, s_arr = _validate(z, scores, mode, min_snr, min_rel)
    order = np.argsort(z_arr, kind="stable")
    zs, ss = z_arr[order], s_arr[order]
    n = zs.size
    failed = FocusState.FAILED

    if n < 3:
        j = int(np.argmin(ss) if mode == "brightfield" else np.argmax(ss))
        return PeakFit(
            index=int(order[j]),
            z=float(zs[j]),
            state=failed,
            confidence=0.0,
            reason=f"fewer than 3 samples ({n}): sample more positions",
            at_edge=True,
            edge_side=-1 if j == 0 else 1,
            z_sample=float(zs[j]),
            mode=mode,
        )

    sigma = noise_sigma(ss)
    spread = float(np.ptp(ss))
    scale = max(float(np.max(np.abs(ss))), 1e-300)

    if mode == "brightfield":
        left = np.maximum.accumulate(ss)
        right = np.maximum.accumulate(ss[::-1])[::-1]
        depth = np.minimum(left, right) - ss
        depth[0] = depth[-1] = 0.0
        j = int(np.argmax(depth))
        height = float(depth[j])
        reference = float(min(left[j], right[j]))
        if 0 < j < n - 1:
            z_fit, method = _refine_min(zs, ss, j)
        else:
            z_fit, method = float(zs[j]), "sample"
        found = "contrast minimum between two maxima"
    else:
        j = int(np.argmax(ss))
        height = float(ss[j] - np.median(ss))
        reference = float(ss[j])
        if 0 < j < n - 1:
            z_fit, method = _refine_max(zs, ss, j, floor=float(np.min(ss)))
        else:
            z_fit, method = float(zs[j]), "sample"
        found = "score maximum"

    at_edge = j in (0, n - 1) and not (mode == "brightfield" and height <= 0)
    edge_side = (-1 if j == 0 else 1) if at_edge else 0
    if sigma > 0:
        snr = height / sigma
    else:
        snr = math.inf if height > 0 else 0.0
    use_snr = n >= 7
    confidence = 0.0
    if height > 0:
        confidence = min(1.0, snr / (4.0 * min_snr)) if use_snr and min_snr > 0 else 1.0
        if abs(reference) > 0:
            confidence = min(confidence, height / abs(reference) / (4.0 * min_rel) if min_rel > 0 else 1.0)
    if at_edge:
        confidence *= 0.5

    def result(state: str, reason: str) -> PeakFit:
        return PeakFit(
            index=int(order[j]),
            z=z_fit,
            state=state,
            confidence=float(np.clip(confidence, 0.0, 1.0)),
            reason=reason,
            at_edge=bool(at_edge),
            edge_side=edge_side,
            z_sample=float(zs[j]),
            mode=mode,
            method=method,
            snr=float(snr),
            noise=float(sigma),
        )

    if spread <= 1e-12 * scale or height <= 0:
        return result(failed, "flat curve: no sample stands out")
    rel = height / abs(reference) if reference != 0 else math.inf
    if rel < min_rel:
        return result(
            failed,
            f"peak not significant: {found} only {100 * rel:.2g}% above the curve (need {100 * min_rel:g}%)",
        )
    if use_snr and snr < min_snr:
        return result(
            failed,
            f"peak not significant: {found} {snr:.2g} noise sigmas high (need {min_snr:g})",
        )
    if at_edge:
        side = "low" if edge_side < 0 else "high"
        return result(failed, f"{found} at the {side} edge of the range: extend or re-centre the range")
    snr_text = "noiseless" if math.isinf(snr) else f"{snr:.3g} noise sigmas"
    return result(FocusState.FOCUSED, f"{found} ({snr_text}), {method} fit")
