"""``--json`` on ``synth`` (and ``record``, see test_cli_rig_flags): one JSON object on stdout that
agrees with what was written to disk, run as processes."""

from __future__ import annotations

import json

from focuscam.stacks import load_stack


def test_synth_json_describes_the_stack_it_wrote(run_cli, tmp_path):
    proc = run_cli("synth", "--out", tmp_path / "s", "--planes", "7", "--size", "64x48", "--gray16", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # exactly one object: json.loads refuses trailing text
    stack = load_stack(tmp_path / "s")
    assert out["planes"] == 7 == len(stack)
    assert out["size"] == [64, 48]
    pixels = stack.image(0)
    assert pixels.shape[:2] == (48, 64)
    assert out["dtype"] == str(pixels.dtype) == "uint16"
    assert out["truth"] == stack.truth
    assert out["bytes"] == sum(f.stat().st_size for f in (tmp_path / "s").rglob("*") if f.is_file())


def test_synth_json_colour_is_uint8(run_cli, tmp_path):
    proc = run_cli("synth", "--out", tmp_path / "c", "--planes", "3", "--size", "32x32", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["dtype"] == "uint8"
