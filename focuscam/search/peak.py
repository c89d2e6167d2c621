"""The peak fit that every search strategy and plane selection end with.

:func:`fit_peak` takes a sampled focus curve (positions ``z`` and scores) and returns a
:class:`PeakFit`: the best sample, a sub-step estimate of the best-focus position, and an honest
``"focused"``/``"failed"`` state with a confidence. Pure numpy, no I/O.

How it decides
--------------
1. Samples are sorted by ``z`` (any order may be given; ``index`` refers to the input order).
2. Significance is decided by the ONE rule of :mod:`focuscam.search.significance`
   (:func:`~focuscam.search.significance.test_peak`: a peak-model fit whose height must be
   ``min_snr`` upper-bound noise sigmas of its residuals; too few samples are not tested and
   fail), and the peak must be at least ``min_rel`` of the peak value.
3. A peak on the first or last sample fails with ``at_edge=True`` (and ``edge_side`` -1/+1),
   so strategies can re-centre their window.
4. The position is refined below the sample step: a Gaussian (a parabola through the logarithm
   of the scores above the curve's floor) over a window SYMMETRIC around the best sample (as
   many samples above half the peak height on each side, 1 or 2), falling back to a 3-point
   parabola, then to the sample itself. The refined position never leaves the interval between
   the best sample's two neighbours (it cannot land beyond a lower neighbour).
5. When the significance test chose the flat-topped model (a plateau wider than the depth of
   field, :mod:`focuscam.search.plateau`), the position is the plateau's fitted centre instead
   (``method="plateau"``), as long as it lies on the samples' own top (the run of samples
   around the best one above half its height) and no second peak is reported.
6. A second, separate local maximum nearly as high as the best (:data:`SECOND_PEAK_RATIO` of
   its height over the curve's floor, with a valley between them) is reported in
   ``second_z`` / ``second_ratio`` and in the reason, not silently ignored.

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
from .plateau import top_run
from .significance import MIN_SNR, test_peak

__all__ = ["MODES", "SECOND_PEAK_RATIO", "PeakFit", "best_index", "fit_peak", "noise_sigma"]

#: Peak-fit modes.
MODES = ("max", "brightfield")

#: A second local maximum at least this fraction of the best peak's height (over the curve's
#: floor), separated from it by a valley below half its own height, is reported.
SECOND_PEAK_RATIO = 0.8

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
        How ``z`` was refined: ``"gaussian"``, ``"parabola"``, ``"sample"`` or ``"plateau"`` (the
        centre of a significant flat-topped model).
    snr : float
        Peak height (or dip depth) in noise sigmas of the peak-model fit (0 when not tested).
    noise : float
        The second-difference noise sigma of the scores (score units; see :func:`noise_sigma`).
    tested : bool
        False when the samples were too few for the significance test (then ``snr`` and
        ``threshold`` claim nothing and the fit fails).
    threshold : float
        The SNR the test needed with these samples (0 when not tested).
    second_z : float
        ``z`` of a second, separate peak nearly as high as the best (NaN when there is none).
    second_ratio : float
        Its height over the curve's floor relative to the best peak's (0 when there is none).
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
    tested: bool = False
    threshold: float = 0.0
    second_z: float = math.nan
    second_ratio: float = 0.0

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


def _refine_max(
    zs: np.ndarray, ss: np.ndarray, i: int, floor: float, sigma: float = 0.0
) -> tuple[float, str]:
    """Sub-step position of the maximum at sorted index ``i`` (not at an edge).

    The window is symmetric around ``i`` (as many samples on each side), so far samples on one
    side cannot skew it, and the result never passes a neighbour that is clearly lower than the
    best sample (more than ``2 sigma`` lower; ``sigma`` the curve's noise): it stays between
    ``zs[i-1]`` and ``zs[i+1]`` unless noise makes a neighbour as high as the best.
    """
    n = zs.size
    height = ss[i] - floor
    k = 1
    if height > 0:
        half = floor + 0.5 * height
        while (
            k < _MAX_WINDOW // 2
            and i - k - 1 >= 0
            and i + k + 1 <= n - 1
            and ss[i - k - 1] > half
            and ss[i + k + 1] > half
        ):
            k += 1
    x, y = zs[i - k : i + k + 1], ss[i - k : i + k + 1]
    lifted = y - floor
    lb, ub = i - 1, i + 1
    while lb > i - k and ss[i] - ss[lb] <= 2.0 * sigma:
        lb -= 1
    while ub < i + k and ss[i] - ss[ub] <= 2.0 * sigma:
        ub += 1
    bounds = (zs[lb], zs[ub])
    if height > 0 and np.all(lifted > 0):
        v = _parabola_vertex(x, np.log(lifted))
        if v is not None and bounds[0] <= v <= bounds[1]:
            return float(v), "gaussian"
    v = _parabola_vertex(zs[i - 1 : i + 2], ss[i - 1 : i + 2])
    if v is not None and bounds[0] <= v <= bounds[1]:
        return float(v), "parabola"
    return float(zs[i]), "sample"


def best_index(ss: np.ndarray) -> int:
    """Index of the highest of the scores ``ss`` (sorted by z). Of several equal highest ones (a
    flat top of replayed frames, a saturated measure) the middle one, or the end one when they
    reach an end of the samples (the top may go on beyond it), never the first of them by
    accident: the first is the top's edge."""
    tied = np.flatnonzero(ss == ss.max())
    if tied[0] == 0 or tied[-1] == ss.size - 1:
        return int(tied[0] if tied[0] == 0 else tied[-1])
    return int(tied[(tied.size - 1) // 2])


def _second_peak(zs: np.ndarray, ss: np.ndarray, j: int, floor: float) -> tuple[float, float]:
    """A separate local maximum nearly as high as the one at ``j``: ``(z, ratio)`` or ``(nan, 0)``."""
    height = ss[j] - floor
    if height <= 0 or zs.size < 5:
        return math.nan, 0.0
    best = (math.nan, 0.0)
    for k in range(zs.size):
        if abs(k - j) < 2:
            continue
        left = ss[k - 1] if k > 0 else -math.inf
        right = ss[k + 1] if k < zs.size - 1 else -math.inf
        if not (ss[k] > left and ss[k] >= right):
            continue
        ratio = (ss[k] - floor) / height
        a, b = sorted((j, k))
        valley = float(np.min(ss[a : b + 1]))
        if ratio >= SECOND_PEAK_RATIO and valley < floor + 0.5 * (ss[k] - floor) and ratio > best[1]:
            best = (float(zs[k]), float(ratio))
    return best


def _plateau_centre(zs: np.ndarray, v: np.ndarray, j: int, model) -> float | None:
    """The centre of a significant plateau model (:mod:`focuscam.search.plateau`), when it lies
    on the samples' own top: the run of samples around the best one (``j``) above half its
    height over the lowest sample (``v`` the scores, negated in brightfield). None otherwise
    (a peak model, or a centre beyond a clearly lower sample)."""
    a, b = top_run(v, j)
    return float(model.z) if zs[a] <= model.z <= zs[b] else None


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
    min_snr: float = MIN_SNR,
    min_rel: float = 0.01,
    width: float | None = None,
    min_width: float | None = None,
    test: bool = True,
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
        Least peak height (dip depth) in noise sigmas of the peak-model fit for ``"focused"``
        (the rule of :func:`~focuscam.search.significance.test_peak`; default 5).
    min_rel : float
        Least peak height (dip depth) relative to the peak score (flank score) for ``"focused"``.
    width : float, optional
        Calibrated curve width (Gaussian sigma, unit of ``z``) for the significance model.
    min_width : float, optional
        Narrowest peak the significance model may use (unit of ``z``; e.g. the step).
    test : bool
        Run the significance test (default). ``False`` (a search's intermediate fits) fits the
        position and edges only; the state is then ``"failed"`` with reason "not tested yet"
        unless the curve is flat or the peak at an edge.

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
    second = (math.nan, 0.0)

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
        j = best_index(ss)
        height = float(ss[j] - np.median(ss))
        reference = float(ss[j])
        floor = float(np.min(ss))
        if 0 < j < n - 1:
            z_fit, method = _refine_max(zs, ss, j, floor=floor, sigma=sigma)
        else:
            z_fit, method = float(zs[j]), "sample"
        second = _second_peak(zs, ss, j, floor)
        found = "score maximum"

    at_edge = j in (0, n - 1) and not (mode == "brightfield" and height <= 0)
    edge_side = (-1 if j == 0 else 1) if at_edge else 0
    # a curve is flat when no sample stands out at all (in brightfield: no dip); a best sample no
    # higher than the median (a flat top holding most samples) is judged after the test, by the
    # fitted model's rise
    flat = spread <= 1e-12 * scale or (mode != "max" and height <= 0)
    sig = None
    if test and not flat:
        sig = test_peak(zs, ss, mode=mode, min_width=min_width, width=width, min_snr=min_snr)
    confidence = 0.0
    if sig is not None and sig.model is not None and sig.model.shape.startswith("plateau-"):
        # a flat top holding most samples puts the median on the top: the relative height of a
        # plateau is the model's own rise over its baseline (as the significance test measures it)
        height = max(height, float(sig.model.height))
        if sig.significant and not math.isfinite(second[0]):
            centre = _plateau_centre(zs, ss if mode == "max" else -ss, j, sig.model)
            if centre is not None:
                z_fit, method = centre, "plateau"
    if height <= 0 and mode == "max" and sig is not None and sig.model is not None:
        # the median on a top of tied samples (the best no higher than it): the model's rise
        height = float(sig.model.height)
    if sig is not None and sig.tested and height > 0:
        confidence = min(1.0, sig.snr / (4.0 * sig.threshold))
        if abs(reference) > 0 and min_rel > 0:
            confidence = min(confidence, height / abs(reference) / (4.0 * min_rel))
    if at_edge:
        confidence *= 0.5

    def result(state: str, reason: str) -> PeakFit:
        if math.isfinite(second[0]):
            reason += f"; warning: a second peak at {second[0]:.4g} is {100 * second[1]:.0f}% as high"
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
            snr=float(sig.snr) if sig is not None else 0.0,
            noise=float(sigma),
            tested=bool(sig is not None and sig.tested),
            threshold=float(sig.threshold) if sig is not None else 0.0,
            second_z=float(second[0]),
            second_ratio=float(second[1]),
        )

    if flat or height <= 0:
        return result(failed, "flat curve: no sample stands out")
    rel = height / abs(reference) if reference != 0 else math.inf
    if rel < min_rel:
        return result(
            failed,
            f"peak not significant: {found} only {100 * rel:.2g}% above the curve (need {100 * min_rel:g}%)",
        )
    if at_edge:
        side = "low" if edge_side < 0 else "high"
        return result(failed, f"{found} at the {side} edge of the range: extend or re-centre the range")
    if sig is None:
        return result(failed, f"{found}, {method} fit; significance not tested yet")
    if not sig.significant:
        return result(failed, sig.text if sig.tested else f"{found}, {method} fit; {sig.text}")
    return result(FocusState.FOCUSED, f"{found}, {method} fit; {sig.text}")
