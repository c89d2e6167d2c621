"""`focuscam bench --json --quick` as a process: the keys and shapes of the report, not the times."""

from __future__ import annotations

import json

import pytest

from focuscam.bench import EXTRA_ROIS, FRAMES, ROIS, TARGETS, centred_roi, check_targets, ratio_key
from focuscam.measures import MEASURES


def test_centred_roi_is_a_quarter_of_the_area():
    x, y, w, h = centred_roi(1080, 1920, "roi25")
    assert (w * h) / (1920 * 1080) == pytest.approx(0.25)
    assert (x, y) == ((1920 - w) // 2, (1080 - h) // 2)
    assert centred_roi(1080, 1920, "full") == (0, 0, 1920, 1080)


@pytest.mark.slow
def test_bench_quick_json_as_a_process(run_cli):
    proc = run_cli("bench", "--json", "--quick", timeout=900)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # one JSON object, nothing else on stdout
    assert result["quick"] is True
    assert {"machine", "rows", "ratios", "compile", "startup", "targets", "all_targets_pass"} <= set(result)
    expected = [(f[0], k) for f in FRAMES for k in (*ROIS, *EXTRA_ROIS.get(f[0], ()))]
    assert [(r["frame"], r["roi"]) for r in result["rows"]] == expected
    for row in result["rows"]:
        cv = {f"cv_{name}" for name in MEASURES}
        assert set(row["ms"]) == {"cv_ref", "cv_fast", "floor", "floor_sum", "floor_copy", *MEASURES, *cv}
        assert all(v > 0 for v in row["ms"].values())
        assert row["ms"]["floor"] == min(row["ms"]["floor_sum"], row["ms"]["floor_copy"])
        assert row["ref_over_lapv"] == pytest.approx(row["ms"]["cv_ref"] / row["ms"]["lapv"])
        assert row["lapv_over_floor"] == pytest.approx(row["ms"]["lapv"] / row["ms"]["floor"])
        for name in MEASURES:
            assert row[f"cv_over_{name}"] == pytest.approx(row["ms"][f"cv_{name}"] / row["ms"][name])
            key = ratio_key(row["frame"], row["roi"], f"cv_over_{name}")
            assert result["ratios"][key] == row[f"cv_over_{name}"]
    comp = result["compile"]
    assert comp["recompiled"] is False and comp["cold_first_lapv_s"] > 0
    startup = result["startup"]
    assert startup["select_cpu_s"] > 0 and startup["help_heavy_imports"] == []
    # every target of the issue's table, each under its own key, PASS or FAIL
    assert len(result["targets"]) == len(TARGETS) + 3
    keys = [t["key"] for t in result["targets"]]
    assert len(set(keys)) == len(keys) and set(result["targets_by_key"]) == set(keys)
    assert {"select_cpu_s", "help_heavy_imports", "second_process_recompiles"} <= set(keys)
    assert set(result["targets_by_key"].values()) <= {"PASS", "FAIL"}
    assert all(isinstance(t["pass"], bool) for t in result["targets"])
    assert result["all_targets_pass"] == all(t["pass"] for t in result["targets"])


def test_every_issue_target_has_a_row_and_a_key():
    """Each target names a (frame, ROI) row the bench measures; the comparison decides PASS/FAIL."""
    measured = {(f[0], k) for f in FRAMES for k in (*ROIS, *EXTRA_ROIS.get(f[0], ()))}
    assert {(label, kind) for label, kind, *_ in TARGETS} <= measured
    rows = []
    for label, kind, quantity, op, limit in TARGETS:
        row = next((r for r in rows if (r["frame"], r["roi"]) == (label, kind)), None)
        if row is None:
            row = {"frame": label, "roi": kind}
            rows.append(row)
        row[quantity] = limit * (1.01 if op == ">=" else 0.99)
    passed = check_targets(rows, None)
    assert len(passed) == len(TARGETS) and all(t["pass"] for t in passed)
    for row in rows:
        for quantity in [q for q in row if "_over_" in q]:
            op = next(t[3] for t in TARGETS if (t[0], t[1], t[2]) == (row["frame"], row["roi"], quantity))
            row[quantity] *= 0.9 if op == ">=" else 1.1
    assert not any(t["pass"] for t in check_targets(rows, None))


def test_bench_help_has_examples(run_cli):
    proc = run_cli("bench", "--help")
    assert proc.returncode == 0 and "--quick" in proc.stdout and "examples:" in proc.stdout
