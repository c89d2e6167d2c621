"""Evaluate search strategies in closed loop on the digital twin of stacks with a known truth.

For each stack and strategy, :func:`evaluate_stack` runs the autofocus controller on the twin
(:mod:`focuscam.twin`) from ``starts`` start positions spread evenly over the stack's z range
(both ends included) and reports the success rate (final position within ``truth.tolerance``
and state ``focused``), the mean and worst absolute error (in the stack's unit and in plane
steps), the frames scored, moves, travel and simulated time per run.

The ``baseline`` row is the naive method: move to every plane, score it with ``lapv`` (no
binning) and take the argmax -- what a full sweep without a peak fit or a significance test does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["BASELINE", "EvalRow", "evaluate", "evaluate_stack", "format_table", "supports"]

#: Name of the baseline row.
BASELINE = "baseline"


@dataclass(frozen=True)
class EvalRow:
    """One stack x strategy evaluation; errors and travel in the stack's ``z_unit``."""

    stack: str
    strategy: str
    runs: int
    success_rate: float
    mean_error: float
    max_error: float
    mean_error_steps: float
    max_error_steps: float
    frames: float
    sweep_frames: int
    frame_fraction: float
    moves: float
    travel: float
    time_s: float
    z_unit: str | None
    tolerance: float
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: Runs that said "focused" outside the truth's tolerance (a wrong plane, the costly kind of
    #: failure; the other failures said "failed").
    wrong_focused: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (rounded for reading)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = None if not math.isfinite(value) else round(value, 6)
        return out


def _modality_mode(stack) -> str:
    return "brightfield" if (stack.modality or "").lower() == "brightfield" else "max"


def _starts(lo: float, hi: float, n: int) -> list[float]:
    return [float(v) for v in np.linspace(lo, hi, n)]


def _baseline_run(stack, start_um: float, cache: dict, **twin_options: Any) -> dict[str, Any]:
    """Score every plane with lapv (bin 1) in closed loop on the twin; the argmax is the answer."""
    from .measures import measure
    from .twin import make_twin

    src, drive = make_twin(stack, start_um=start_um, cache=cache, **twin_options)
    t0 = drive.clock.now()
    planes = list(src.planes_um)
    if abs(start_um - planes[-1]) < abs(start_um - planes[0]):
        planes.reverse()
    travel, here, scores = 0.0, start_um, []
    for z in planes:
        travel += abs(z - here)
        here = drive.move_to(z)
        frame = src.fresh_frame(after=drive.clock.now())
        scores.append((here, measure(frame.pixels, "lapv", None, 1)))
    best = max(scores, key=lambda p: p[1])[0]
    travel += abs(best - here)
    drive.move_to(best)
    return {
        "z_um": best,
        "focused": True,
        "frames": len(scores),
        "moves": len(scores) + 1,
        "travel_um": travel,
        "time_s": drive.clock.now() - t0,
        "reason": "argmax of lapv",
    }


def _memo_score(af: Any, cache: dict) -> None:
    """Score each decoded plane once per (measure, roi, grid, bin) in this process.

    The twin serves the cached plane arrays themselves (not copies) unless it blends planes, so
    a plane is recognised by identity among the arrays the shared ``cache`` keeps alive.
    """
    score = af.score

    def cached(pixels: np.ndarray) -> float:
        # the key is read per call: a bin="auto" retry changes the binning during the run
        key = ("scores", af.measure_name, repr(af.roi), repr(af.grid), repr(af.bin))
        memo = cache.setdefault(key, {})
        k = id(pixels)
        if k in memo:
            return memo[k]
        s = score(pixels)
        if any(v is pixels for v in cache.values()):
            memo[k] = s
        return s

    af.score = cached


def _strategy_run(stack, strategy: str, start_um: float, cache: dict, options: dict) -> dict[str, Any]:
    from .autofocus import Autofocus
    from .twin import make_twin

    src, drive = make_twin(stack, start_um=start_um, cache=cache)
    af = Autofocus(
        src,
        drive,
        strategy=strategy,
        mode=_modality_mode(stack),
        resolution_um=src.spacing_um,
        **options,
    )
    _memo_score(af, cache)
    r = af.run()
    return {
        "z_um": r.z,
        "focused": r.focused,
        "frames": r.frames,
        "moves": r.moves,
        "travel_um": r.travel_um,
        "time_s": r.elapsed_s,
        "reason": r.reason,
    }


def evaluate_stack(stack: Any, strategy: str, *, starts: int = 8, **options: Any) -> EvalRow:
    """Run ``strategy`` (or ``"baseline"``) on the twin of ``stack`` from ``starts`` positions.

    Parameters
    ----------
    stack : Stack or path
        A z-sweep stack with ``truth``.
    strategy : str
        A registered strategy name, or ``"baseline"``.
    starts : int
        Start positions, spread evenly over the z range (>= 1).
    **options
        Passed to :class:`~focuscam.autofocus.Autofocus` (``measure``, ``bin``, ...).

    Returns
    -------
    EvalRow
        Errors and travel in the stack's ``z_unit``; frames, moves and time are means per run.
    """
    from .twin import _as_stack, z_scale_um

    stack = _as_stack(stack)
    if stack.truth is None:
        raise InputError(f"stack {stack.name!r} has no truth: evaluate needs stacks with a known focus")
    if stack.kind != "z-sweep":
        raise InputError(f"stack {stack.name!r} is a {stack.kind!r}: evaluate needs z-sweeps")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise InputError(f"starts {starts!r} must be an integer >= 1")
    scale = z_scale_um(stack.z_unit)
    z = np.sort(np.asarray(stack.z, dtype=float))
    spacing = float(np.median(np.diff(z)[np.diff(z) > 0]))
    truth, tol = float(stack.truth["z"]), float(stack.truth["tolerance"])
    cache: dict = {}
    runs, errors, failures = [], [], []
    for start in _starts(z[0] * scale, z[-1] * scale, starts):
        if strategy == BASELINE:
            run = _baseline_run(stack, start, cache)
        else:
            run = _strategy_run(stack, strategy, start, cache, options)
        err = math.inf if run["z_um"] is None else abs(run["z_um"] / scale - truth)
        ok = run["focused"] and err <= tol
        runs.append(run)
        errors.append(err)
        if not ok:
            failures.append(
                {
                    "start": start / scale,
                    "z": None if run["z_um"] is None else run["z_um"] / scale,
                    "reason": run["reason"],
                    "focused": bool(run["focused"]),
                }
            )
    errs = np.asarray(errors)
    frames = float(np.mean([r["frames"] for r in runs]))
    return EvalRow(
        stack=stack.name,
        strategy=strategy,
        runs=len(runs),
        success_rate=1.0 - len(failures) / len(runs),
        mean_error=float(np.mean(errs)),
        max_error=float(np.max(errs)),
        mean_error_steps=float(np.mean(errs)) / spacing,
        max_error_steps=float(np.max(errs)) / spacing,
        frames=frames,
        sweep_frames=len(stack),
        frame_fraction=frames / len(stack),
        moves=float(np.mean([r["moves"] for r in runs])),
        travel=float(np.mean([r["travel_um"] for r in runs])) / scale,
        time_s=float(np.mean([r["time_s"] for r in runs])),
        z_unit=stack.z_unit,
        tolerance=tol,
        failures=failures,
        wrong_focused=sum(f["focused"] for f in failures),
    )


def supports(stack: Any, strategy: str) -> bool:
    """True when ``strategy`` can search the kind of curve ``stack`` has (its modality)."""
    from .search import STRATEGIES

    if strategy == BASELINE:
        return True
    return _modality_mode(stack) in STRATEGIES[strategy].modes


def evaluate(
    stacks: list[Any],
    strategies: list[str] | None = None,
    *,
    starts: int = 8,
    skipped: list[tuple[str, str]] | None = None,
    **options: Any,
):
    """Evaluate every strategy (default: the default strategy) and the baseline on every stack.

    Strategies that cannot search a stack's modality (``golden`` and ``hill-climb`` need one
    maximum, not the brightfield minimum) are skipped and listed in ``skipped`` as
    ``(stack name, strategy)``.

    Yields
    ------
    EvalRow
        One per stack and strategy, the strategies first and the baseline last for each stack.
    """
    from .search import DEFAULT_STRATEGY, STRATEGIES
    from .twin import _as_stack

    names = list(strategies) if strategies else [DEFAULT_STRATEGY]
    for name in names:
        if name != BASELINE and name not in STRATEGIES:
            raise InputError(
                f"strategy {name!r} is unknown: use one of {', '.join(sorted(STRATEGIES))} or baseline"
            )
    if BASELINE not in names:
        names.append(BASELINE)
    for stack in stacks:
        stack = _as_stack(stack)
        for name in names:
            if not supports(stack, name):
                if skipped is not None:
                    skipped.append((stack.name, name))
                continue
            yield evaluate_stack(stack, name, starts=starts, **options)


def format_table(rows: list[EvalRow]) -> str:
    """A Markdown table of evaluation rows (errors in each stack's unit)."""
    head = (
        "| stack | strategy | success | mean error | max error | max error (steps) | frames | "
        "of sweep | moves | travel | time (s) |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        unit = f" {r.z_unit}" if r.z_unit not in (None, "index") else ""
        lines.append(
            f"| {r.stack} | {r.strategy} | {r.success_rate * r.runs:.0f}/{r.runs} | "
            f"{r.mean_error:.3g}{unit} | {r.max_error:.3g}{unit} | {r.max_error_steps:.2g} | "
            f"{r.frames:.1f} | {100 * r.frame_fraction:.0f}% | {r.moves:.1f} | {r.travel:.3g}{unit} | "
            f"{r.time_s:.2f} |"
        )
    return "\n".join(lines)
