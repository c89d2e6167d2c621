"""A narrow peak on a background that rises across the window, through the twin.

A fluorescent sample bleaches while a stack is recorded: planes recorded later are dimmer. When
the planes were recorded from the top down, the bottom end of the window is the brightest
out-of-focus plane, and on a 5-point coarse grid it can score higher than the grid samples beside
a narrow peak (benchmarks/synthetic.py, ``bleach-rev``). The default strategy must still find the
peak from every start: the grid's inside local maximum is searched before the window end is
taken for the answer (``focuscam.search.model._hidden_peak_candidates``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from focuscam.evaluate import evaluate_stack
from focuscam.search import DEFAULT_STRATEGY
from focuscam.stacks import load_stack, save_stack
from focuscam.synth import SynthParams, render_planes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from synthetic import H, W, bleached


@pytest.mark.parametrize(("kind", "seed"), [("target", 2), ("cells", 2), ("cells", 1)])
def test_default_finds_the_peak_of_a_stack_bleached_from_the_top_down(tmp_path, kind, seed):
    params = SynthParams(kind=kind, color=False, width=W, height=H, seed=seed, planes=41)
    frames, z, focus = render_planes(params)
    truth = {"z": float(focus), "tolerance": 1.0, "basis": "synthetic"}
    path = save_stack(tmp_path / "s", bleached(frames, upward=False), z, z_unit="um", kind="z-sweep",
                      name="s", truth=truth)  # fmt: skip
    row = evaluate_stack(load_stack(path), DEFAULT_STRATEGY, starts=8)
    assert row.success_rate == 1.0, row.failures
    assert row.frames <= 0.4 * len(z)  # far fewer than a sweep
