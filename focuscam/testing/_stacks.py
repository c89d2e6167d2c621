"""Stacks for tests: synthetic ones with a known focus, folders of them, and the focus assertion."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["assert_focused", "find_stacks", "synthetic_stack"]


def synthetic_stack(
    tmp_path: str | os.PathLike[str],
    *,
    kind: str = "target",
    planes: int = 21,
    z_focus: float = 0.0,
    seed: int = 0,
    z_step: float = 1.0,
    size: tuple[int, int] = (160, 120),
    color: bool = False,
    name: str = "synthetic",
    **params: Any,
) -> Path:
    """Write a small synthetic z-stack with a known focus into ``tmp_path``; return its folder.

    Parameters
    ----------
    tmp_path : path
        A folder (pytest's ``tmp_path``); the stack goes into ``tmp_path / name``.
    kind : {"target", "cells"}
        A resolution-target-like chart or cell-like blobs.
    planes : int
        Number of planes (>= 3), ``z_step`` um apart, centred on 0 um.
    z_focus : float
        The true focus in um (inside the planes' range).
    seed : int
        Seed of the scene and the noise: the same arguments give the same pixels.
    size : (int, int)
        Frame size (width, height) in pixels.
    color : bool
        8-bit BGR frames (True) or 16-bit gray (False).
    **params
        More :class:`~focuscam.synth.SynthParams` fields (``blur_per_um``, ``photons``,
        ``read_noise``).
    """
    from ..synth import SynthParams, synth_stack

    folder = Path(tmp_path)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder: pass pytest's tmp_path (or another folder)")
    width, height = size
    p = SynthParams(
        kind=kind,
        color=color,
        planes=planes,
        width=width,
        height=height,
        seed=seed,
        z_step=z_step,
        z_focus=z_focus,
        **params,
    )
    p.validate()
    return synth_stack(folder / name, p, name=name)


def find_stacks(folder: str | os.PathLike[str]) -> list[Path]:
    """The stack folders (those with a ``stack.json``) directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder of stacks: give a folder whose subfolders hold stack.json")
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "stack.json").is_file())


def _truth_um(stack: Any) -> tuple[float, float, float, str]:
    from ..twin import z_scale_um

    truth = stack.truth
    if not truth:
        raise AssertionError(f"stack {stack.name!r} has no known focus (no 'truth' in stack.json)")
    return float(truth["z"]), float(truth["tolerance"]), z_scale_um(stack.z_unit), stack.z_unit or "index"


def assert_focused(result: Any, stack: Any) -> None:
    """Assert that ``result`` is focused and within the stack's truth tolerance.

    Parameters
    ----------
    result : AutofocusResult or PlaneResult or SearchResult
        An autofocus run (z in um), a plane selection (z in the stack's unit) or a search.
    stack : Stack or path or Twin
        The stack whose ``truth`` is the reference.

    Raises
    ------
    AssertionError
        With truth, tolerance, the result's z and error (in the stack's unit) and its state.
    """
    from ..stacks import Stack, load_stack

    if hasattr(stack, "source") and hasattr(stack, "drive"):
        stack = stack.source.stack
    if isinstance(stack, str | os.PathLike):
        stack = load_stack(stack)
    if not isinstance(stack, Stack):
        raise TypeError(f"stack {stack!r} is not a Stack, a path or a Twin")
    truth, tol, scale, unit = _truth_um(stack)
    z = getattr(result, "z", None)
    state = getattr(result, "state", "?")
    reason = getattr(result, "reason", "")
    from ..select import PlaneResult

    if z is not None and not isinstance(result, PlaneResult):
        z = float(z) / scale  # an autofocus or search result is in um: -> the stack's unit
    where = f"truth {truth:g} +- {tol:g} {unit} in {stack.name!r}"
    if z is None or not math.isfinite(float(z)):
        raise AssertionError(f"no position: state {state} ({reason}); {where}")
    error = float(z) - truth
    if state != "focused":
        raise AssertionError(
            f"state {state}, not focused ({reason}); ended at {float(z):g} {unit}, "
            f"error {error:+g} {unit}; {where}"
        )
    if abs(error) > tol:
        raise AssertionError(
            f"focused at {float(z):g} {unit}, error {error:+g} {unit} is outside the tolerance; {where}"
        )
