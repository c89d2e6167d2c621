"""``focuscam evaluate --drift``: the focus lock against a drifting sample on the twin."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_stack
from twin_helpers import defocus_stack, index_stack

from focuscam.evaluate_drift import SCENARIOS, evaluate_drift
from focuscam.twin import make_twin, z_scale_um

SHARED_WITH_TRUTH = ["fpd_webcam_rep1", "dfnn_mitochondria", "maars_bf_yeast", "udaf_metal_iy000"]


def spacing_um(stack):
    from focuscam.stacks import load_stack

    s = load_stack(stack)
    z = np.sort(np.asarray(s.z, dtype=float)) * z_scale_um(s.z_unit)
    return float(np.median(np.diff(z)[np.diff(z) > 0]))


def test_the_twin_sample_drifts_with_time(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "ix", [0.0, 1.0, 2.0, 3.0, 4.0]), start_um=0.0)
    t0 = drive.clock.now()
    src.drift = lambda t: 0.5 * (t - t0)  # um/s: the sample drifts up past the planes
    seen = [int(src.fresh_frame(after=t0 + k).pixels[0, 0]) - 1 for k in range(0, 9, 2)]
    assert seen == [0, 1, 2, 3, 4]  # plane index = round(drift), the drive never moved


@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_WITH_TRUTH)
def test_the_lock_beats_no_lock_on_every_shared_stack_with_truth(name):
    stack = shared_stack(name)
    # a drift of 0.4 plane spacings per second: four planes over the 10 s hold. The
    # focusing strategy is not under test here (sweep focuses on all four stacks).
    row = evaluate_drift(stack, drift_um_s=0.4 * spacing_um(stack), seconds=10.0, starts=1, strategy="sweep")
    assert row.focused_runs == row.runs == len(SCENARIOS), row.failures
    assert row.lock_rms_error < row.nolock_rms_error
    for scenario in ("drift+", "drift-"):  # a steady drift, either sign, on its own too
        errors = row.scenarios[scenario]
        assert errors["lock_rms_error"] < errors["nolock_rms_error"], scenario


def test_cli_reports_lock_beside_nolock_rms_error(run_cli, tmp_path):
    stack = defocus_stack(tmp_path / "syn", planes=41, focus=23.0)
    proc = run_cli("evaluate", stack, "--drift", "0.2", "--seconds", "15", "--starts", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert {"lock_rms_error", "nolock_rms_error", "stack", "drift_um_s", "seconds"} <= set(row)
    assert row["lock_rms_error"] < row["nolock_rms_error"]
    assert set(row["scenarios"]) == set(SCENARIOS)
    table = run_cli("evaluate", stack, "--drift", "0.2", "--seconds", "5", "--starts", "1")
    assert table.returncode == 0 and "lock rms error" in table.stdout


def test_cli_seconds_without_drift_is_one_line_exit_2(run_cli, tmp_path):
    stack = defocus_stack(tmp_path / "syn", planes=9, focus=4.0, hi=8.0)
    proc = run_cli("evaluate", stack, "--seconds", "5")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--drift" in proc.stderr
