"""`focuscam bench --json --quick` as a process: the keys and shapes of the report, not the times."""

from __future__ import annotations

import json

import pytest

from focuscam.bench import FRAMES, ROIS, TARGETS, centred_roi
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
    assert {"machine", "rows", "compile", "targets", "all_targets_pass"} <= set(result)
    assert [(r["frame"], r["roi"]) for r in result["rows"]] == [(f[0], k) for f in FRAMES for k in ROIS]
    for row in result["rows"]:
        assert set(row["ms"]) == {"cv_ref", "cv_fast", "floor", *MEASURES}
        assert all(v > 0 for v in row["ms"].values())
        assert row["ref_over_lapv"] == pytest.approx(row["ms"]["cv_ref"] / row["ms"]["lapv"])
        assert row["lapv_over_floor"] == pytest.approx(row["ms"]["lapv"] / row["ms"]["floor"])
    comp = result["compile"]
    assert comp["recompiled"] is False and comp["cold_first_lapv_s"] > 0
    assert len(result["targets"]) == len(TARGETS) + 1
    assert all(isinstance(t["pass"], bool) for t in result["targets"])
    assert result["all_targets_pass"] == all(t["pass"] for t in result["targets"])


def test_bench_help_has_examples(run_cli):
    proc = run_cli("bench", "--help")
    assert proc.returncode == 0 and "--quick" in proc.stdout and "examples:" in proc.stdout
