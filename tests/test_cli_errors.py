"""Every subcommand's error paths, run as processes: the documented exit code (2 bad usage or
input, 3 device), exactly one line on stderr, and never a traceback. Also: every ``--help`` has
an ``examples:`` epilog."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "recordings" / "target_color"
SUBCOMMANDS = [
    "demo",
    "monitor",
    "autofocus",
    "select",
    "record",
    "evaluate",
    "move",
    "ports",
    "synth",
    "bench",
    "rig",
]

#: (id, argv, exit code); argv items may use {tmp} and {target}.
CASES = [
    ("demo-unknown-flag", ["demo", "--nope"], 2),
    ("monitor-bad-roi", ["monitor", "--source", "replay:{target}", "--roi", "1,2,3", "--no-window"], 2),
    (
        "monitor-unknown-measure",
        ["monitor", "--source", "replay:{target}", "--measure", "nope", "--no-window"],
        2,
    ),
    ("monitor-missing-source-file", ["monitor", "--source", "video:{tmp}/none.avi", "--no-window"], 2),
    ("monitor-bad-source-spec", ["monitor", "--source", "bogus:0", "--no-window"], 2),
    ("monitor-bad-frames", ["monitor", "--source", "replay:{target}", "--frames", "0"], 2),
    (
        "autofocus-unknown-strategy",
        ["autofocus", "--source", "replay:{target}", "--drive", "sim", "--strategy", "nope", "--json"],
        2,
    ),
    (
        "autofocus-bad-range",
        ["autofocus", "--source", "replay:{target}", "--drive", "sim", "--range", "5,1", "--json"],
        2,
    ),
    (
        "autofocus-bad-plot",
        ["autofocus", "--source", "replay:{target}", "--drive", "sim", "--plot", "{tmp}/c.txt", "--json"],
        2,
    ),
    (
        "autofocus-bad-drive-spec",
        ["autofocus", "--source", "replay:{target}", "--drive", "bogus:x", "--range", "0,1", "--json"],
        2,
    ),
    (
        "autofocus-missing-port",
        [
            "autofocus",
            "--source",
            "replay:{target}",
            "--drive",
            "grbl:/dev/nonexistent-focuscam",
            "--limits",
            "0,1",
            "--json",
        ],
        3,
    ),
    ("select-missing-stack", ["select", "{tmp}/none"], 2),
    ("select-unknown-measure", ["select", "{target}", "--measure", "nope"], 2),
    ("select-bad-roi", ["select", "{target}", "--roi", "a,b,c,d"], 2),
    ("record-out-exists", ["record", "--source", "replay:{target}", "--out", "{tmp}", "--frames", "1"], 2),
    (
        "record-bad-seconds",
        ["record", "--source", "replay:{target}", "--out", "{tmp}/r", "--seconds", "-1"],
        2,
    ),
    ("evaluate-missing-stack", ["evaluate", "{tmp}/none"], 2),
    ("evaluate-unknown-strategy", ["evaluate", "{target}", "--strategy", "nope"], 2),
    ("move-bad-drive-spec", ["move", "--drive", "bogus:x", "--to", "1"], 2),
    ("move-bad-limits", ["move", "--drive", "sim", "--limits", "x", "--to", "1"], 2),
    (
        "move-missing-port",
        ["move", "--drive", "grbl:/dev/nonexistent-focuscam", "--limits", "-5,5", "--to", "1"],
        3,
    ),
    ("ports-unknown-flag", ["ports", "--nope"], 2),
    ("synth-bad-size", ["synth", "--out", "{tmp}/s", "--size", "10x"], 2),
    ("synth-bad-planes", ["synth", "--out", "{tmp}/s", "--planes", "0"], 2),
    ("bench-unknown-flag", ["bench", "--nope"], 2),
    ("rig-missing-file", ["rig", "check", "{tmp}/none.toml"], 2),
    ("rig-bad-key", ["rig", "check", "{tmp}/bad.toml"], 2),
    ("rig-no-action", ["rig"], 2),
]


@pytest.mark.parametrize(("argv", "code"), [(a, c) for _, a, c in CASES], ids=[i for i, _, _ in CASES])
def test_error_is_one_line_with_the_documented_code(run_cli, tmp_path, argv, code):
    (tmp_path / "bad.toml").write_text("[camera]\nsourse = 'camera:0'\n")
    args = [a.format(tmp=tmp_path, target=TARGET) for a in argv]
    proc = run_cli(*args, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("focuscam"), lines[0]
    assert proc.returncode == code, proc.stderr


def test_every_subcommand_has_an_error_case():
    assert {argv[0] for _, argv, _ in CASES} == set(SUBCOMMANDS)


@pytest.mark.parametrize("argv", [[c] for c in SUBCOMMANDS] + [["rig", "check"]], ids=" ".join)
def test_help_has_examples(run_cli, argv):
    proc = run_cli(*argv, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "examples:" in proc.stdout
    assert "focuscam " + argv[0] in proc.stdout.split("examples:", 1)[1]
