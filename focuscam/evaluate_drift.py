"""Evaluate the focus lock against a drifting sample on the digital twin of stacks with a truth.

For each start position, :func:`evaluate_drift` focuses with the controller on the twin of the
stack, then holds focus with the lock (:mod:`focuscam.lock`) for ``seconds`` while the sample
drifts (the twin's ``drift(t)``: the true focus moves with time), in three scenarios: a steady
drift of ``+drift_um_s``, the same of ``-drift_um_s``, and one sudden bump (a step of half the
steady drift's total, ``drift_um_s * seconds / 2``, halfway through the hold, no steady drift).

The error at a frame captured at time ``t`` is where the optics are against where the focus is:
``drive z(t) + drift(t) - truth``. ``lock_rms_error`` is its RMS over every frame of every hold
with the lock; ``nolock_rms_error`` the same when the drive stays where the focusing left it.
Both are in the stack's own ``z_unit``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["SCENARIOS", "DriftRow", "evaluate_drift", "format_drift_table", "run_cli"]

#: The drift scenarios of every start: steady up, steady down, one sudden bump.
SCENARIOS = ("drift+", "drift-", "bump")


@dataclass(frozen=True)
class DriftRow:
    """One stack's lock-vs-no-lock figures; errors in the stack's ``z_unit``."""

    stack: str
    drift_um_s: float
    seconds: float
    runs: int
    focused_runs: int
    lock_rms_error: float
    nolock_rms_error: float
    lock_max_error: float
    nolock_max_error: float
    refocuses: float
    z_unit: str | None
    tolerance: float
    scenarios: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (rounded for reading)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float):
                return None if not math.isfinite(value) else round(value, 6)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            return value

        return {k: clean(v) for k, v in asdict(self).items()}


def _drift_fn(scenario: str, rate: float, t0: float, seconds: float):
    if scenario == "drift+":
        return lambda t: rate * max(0.0, t - t0)
    if scenario == "drift-":
        return lambda t: -rate * max(0.0, t - t0)
    bump = rate * seconds / 2.0
    return lambda t: bump if t >= t0 + seconds / 2.0 else 0.0


def _hold(
    stack: Any, scenario: str, start_um: float, cache: dict, rate: float, seconds: float, options: dict
):
    """Focus from ``start_um``, then hold ``seconds`` under one scenario; errors (um) per frame."""
    from .autofocus import Autofocus
    from .evaluate import _modality_mode
    from .twin import make_twin

    src, drive = make_twin(stack, start_um=start_um, cache=cache)
    af = Autofocus(src, drive, mode=_modality_mode(stack), resolution_um=src.spacing_um, **options)
    result = af.run()
    if not result.focused:
        return None, result.reason
    truth_um = float(stack.truth["z"]) * src.scale_um
    z0, t0 = drive.position, drive.clock.now()
    src.drift = _drift_fn(scenario, rate, t0, seconds)
    lock_err: list[float] = []
    nolock_err: list[float] = []

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "sample" and data.get("lock") and data.get("t") is not None:
            t = float(data["t"])
            lock_err.append(drive.position_at(t) + src.drift_at(t) - truth_um)
            nolock_err.append(z0 + src.drift_at(t) - truth_um)

    af.on_event = on_event
    report = af.lock(duration_s=seconds)
    src.close()
    return (np.asarray(lock_err), np.asarray(nolock_err), report.refocuses), None


def evaluate_drift(
    stack: Any, *, drift_um_s: float, seconds: float = 30.0, starts: int = 8, **options: Any
) -> DriftRow:
    """Focus, then hold with the lock while the sample drifts; lock vs no lock (see module docs).

    Parameters
    ----------
    stack : Stack or path
        A z-sweep stack with ``truth``.
    drift_um_s : float
        The steady drift in um/s (> 0; run with both signs).
    seconds : float
        How long each hold lasts, in s of the twin's clock.
    starts : int
        Start positions of the focusing, spread evenly over the z range (>= 1).
    **options
        Passed to :class:`~focuscam.autofocus.Autofocus` (``strategy``, ``measure``, ...).
    """
    from .evaluate import _starts
    from .twin import _as_stack, z_scale_um

    stack = _as_stack(stack)
    if stack.truth is None:
        raise InputError(f"stack {stack.name!r} has no truth: --drift needs stacks with a known focus")
    if stack.kind != "z-sweep":
        raise InputError(f"stack {stack.name!r} is a {stack.kind!r}: --drift needs z-sweeps")
    rate, secs = float(drift_um_s), float(seconds)
    if not (math.isfinite(rate) and rate > 0):
        raise InputError(f"--drift {drift_um_s!r} must be a number > 0 (um/s); both signs are run")
    if not (math.isfinite(secs) and secs > 0):
        raise InputError(f"--seconds {seconds!r} must be a number > 0")
    if isinstance(starts, bool) or not isinstance(starts, int) or starts < 1:
        raise InputError(f"starts {starts!r} must be an integer >= 1")
    scale = z_scale_um(stack.z_unit)
    z = np.sort(np.asarray(stack.z, dtype=float)) * scale
    cache: dict = {}
    lock_all, nolock_all, refocuses, failures = [], [], [], []
    per: dict[str, tuple[list, list]] = {s: ([], []) for s in SCENARIOS}
    runs = 0
    for start in _starts(float(z[0]), float(z[-1]), starts):
        for scenario in SCENARIOS:
            runs += 1
            out, reason = _hold(stack, scenario, start, cache, rate, secs, options)
            if out is None:
                failures.append({"start": start / scale, "scenario": scenario, "reason": reason})
                continue
            lock_e, nolock_e, n = out
            lock_all.append(lock_e)
            nolock_all.append(nolock_e)
            per[scenario][0].append(lock_e)
            per[scenario][1].append(nolock_e)
            refocuses.append(n)

    def rms(parts: list) -> float:
        return float(np.sqrt(np.mean(np.square(np.concatenate(parts))))) / scale if parts else math.nan

    def worst(parts: list) -> float:
        return float(np.max(np.abs(np.concatenate(parts)))) / scale if parts else math.nan

    return DriftRow(
        stack=stack.name,
        drift_um_s=rate,
        seconds=secs,
        runs=runs,
        focused_runs=runs - len(failures),
        lock_rms_error=rms(lock_all),
        nolock_rms_error=rms(nolock_all),
        lock_max_error=worst(lock_all),
        nolock_max_error=worst(nolock_all),
        refocuses=float(np.mean(refocuses)) if refocuses else 0.0,
        z_unit=stack.z_unit,
        tolerance=float(stack.truth["tolerance"]),
        scenarios={s: {"lock_rms_error": rms(a), "nolock_rms_error": rms(b)} for s, (a, b) in per.items()},
        failures=failures,
    )


def format_drift_table(rows: list[DriftRow]) -> str:
    """A Markdown table of drift rows (errors in each stack's unit)."""
    lines = [
        "| stack | drift (um/s) | hold (s) | focused | lock rms error | no-lock rms error | "
        "lock max error | no-lock max error | re-focuses per hold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        unit = f" {r.z_unit}" if r.z_unit not in (None, "index") else ""
        lines.append(
            f"| {r.stack} | {r.drift_um_s:g} | {r.seconds:g} | {r.focused_runs}/{r.runs} | "
            f"{r.lock_rms_error:.3g}{unit} | {r.nolock_rms_error:.3g}{unit} | {r.lock_max_error:.3g}{unit} | "
            f"{r.nolock_max_error:.3g}{unit} | {r.refocuses:.1f} |"
        )
    return "\n".join(lines)


def run_cli(args: Any) -> int:
    """``focuscam evaluate --drift UM_PER_S [--seconds S]``: one row per stack (table or ndjson)."""

    from .stacks import load_stack

    if args.drift is None:
        raise InputError("--seconds applies with --drift UM_PER_S: add --drift, e.g. --drift 0.5")
    strategies = args.strategy or []
    if len(strategies) > 1:
        raise InputError("--drift focuses with one strategy: give --strategy once (or leave it out)")
    options = {"strategy": strategies[0]} if strategies else {}
    seconds = 30.0 if args.seconds is None else args.seconds
    stacks = [load_stack(path) for path in args.stacks]
    rows = []
    for stack in stacks:
        row = evaluate_drift(stack, drift_um_s=args.drift, seconds=seconds, starts=args.starts, **options)
        rows.append(row)
        if args.json:
            from .cli._json import dump_line

            dump_line(row.to_dict(), flush=True)
    if not args.json:
        print(format_drift_table(rows))
    return 0
