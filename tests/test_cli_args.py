"""The CLI's options as a class: negative numbers, bounded numbers, mistyped flags (as processes).

Every option of every subcommand whose ``type`` reads numbers is found by walking the real
parser (``focuscam.cli.build_parser``), so an option added later is covered without editing
this file.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.cli import _args, build_parser
from focuscam.errors import InputError
from focuscam.measures import measure
from focuscam.types import ROI


def _subparsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _subparsers(sub, (*path, name))


def _takes_numbers(action: argparse.Action) -> bool:
    """An option whose value is numbers: a numeric type, or a comma list like LO,HI or x,y,w,h."""
    if not action.option_strings or action.nargs is not None or action.const is not None:
        return False
    return bool(
        getattr(action.type, "numeric", False) or action.type in (int, float) or "," in str(action.metavar)
    )


def numeric_options():
    """(command path, option string, metavar) of every option that takes numbers."""
    out = []
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            if _takes_numbers(action):
                out.append((path, action.option_strings[-1], str(action.metavar)))
    return out


NUMERIC = numeric_options()


def _negative(metavar: str) -> str:
    """A value of this option's syntax that starts with a minus sign."""
    if metavar.count(",") == 3:
        return "-1,2,30,40"
    if "," in metavar:
        return "-5,5"
    if "x" in metavar.lower() and len(metavar) == 3:  # RxC, WxH
        return "-2x3"
    return "-5"


def run_cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "focuscam", *argv], capture_output=True, text=True, timeout=timeout
    )


def _many(argvs):
    # two at a time: the machine has two cores; every call is a separate short process
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda a: run_cli(*a), argvs))


def test_the_walk_finds_the_numeric_options_of_every_subcommand():
    found = {(" ".join(p), o) for p, o, _ in NUMERIC}
    for expected in [
        ("autofocus", "--range"),
        ("autofocus", "--start"),
        ("move", "--limits"),
        ("move", "--by"),
        ("synth", "--z-focus"),
        ("monitor", "--fps"),
        ("evaluate", "--starts"),
        ("select", "--roi"),
    ]:
        assert expected in found


def test_no_option_reads_an_unbounded_int_or_float():
    """The class: a bare ``type=int`` or ``type=float`` accepts 10**12, 1e-300, nan and inf."""
    bare = [
        (" ".join(path), action.option_strings[-1])
        for path, parser in _subparsers(build_parser())
        for action in parser._actions
        if action.type in (int, float)
    ]
    assert bare == []


def test_every_numeric_option_takes_a_value_starting_with_a_minus_sign():
    """``--opt -5`` and ``--opt -5,5`` are the option's value in every subcommand.

    ``--help`` after the option ends the run once the value has been read: exit 0 when the value
    is allowed, else exit 2 with one line naming the option's bounds, never "expected one
    argument".
    """
    argvs = [(*path, opt, _negative(metavar), "--help") for path, opt, metavar in NUMERIC]
    for argv, proc in zip(argvs, _many(argvs), strict=True):
        assert "expected one argument" not in proc.stderr, (argv, proc.stderr)
        assert "unknown option" not in proc.stderr, (argv, proc.stderr)
        if proc.returncode == 0:
            assert "usage:" in proc.stdout, argv
        else:
            assert proc.returncode == 2, (argv, proc.stderr)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and f"argument {argv[-3]}" in lines[0], (argv, proc.stderr)


def test_the_readme_range_example_parses():
    proc = run_cli("autofocus", "--range", "-500,500", "--source", "camera:9", "--drive", "sim", "--help")
    assert proc.returncode == 0, proc.stderr


#: (argv, text the one line must contain): every subcommand, the issue's numbers first.
BAD_INPUT = [
    (["monitor", "--source", "replay:x", "--fps", "1e-300"], "--fps"),
    (["evaluate", "x", "--starts", "1000000000000"], "--starts"),
    (["evaluate", "x", "--starts", "10**12"], "whole number"),
    (["synth", "--out", "x", "--seed", "-1"], "--seed"),
    (["synth", "--out", "x", "--z-focus", "1e308"], "--z-focus"),
    (["move", "--drive", "sim", "--speed", "1e-300", "--to", "1"], "--speed"),
    (["move", "--drive", "sim", "--timeout", "nan", "--to", "1"], "finite number"),
    (["move", "--drive", "sim", "--to", "inf"], "--to"),
    (["move", "--drive", "sim", "--limits", "5,-5", "--to", "0"], "MIN <= MAX"),
    (["move", "--drive", "sim", "--backlash", "-1", "--to", "0"], "--backlash"),
    (["autofocus", "--range", "500,-500"], "LO < HI"),
    (["autofocus", "--range", "-nan,5"], "finite"),
    (["autofocus", "--roi", "-1,0,10,10"], "--roi"),
    (["select", "x", "--bin", "17"], "--bin"),
    (["monitor", "--grid", "1000x1000"], "--grid"),
    (["record", "--out", "x", "--seconds", "-3"], "--seconds"),
    (["synth", "--out", "x", "--planes", "1000000000"], "--planes"),
    (["synth", "--out", "x", "--size", "100000x100000"], "--size"),
    (["synth", "--out", "x", "--photons", "nan"], "--photons"),
    (["synth", "--out", "x", "--read-noise", "-inf"], "--read-noise"),
    (["select", "--mesure", "teng", "recordings/target_color"], "did you mean --measure?"),
    (["autofocus", "--strategi", "brent"], "did you mean --strategy?"),
    (["demo", "--jsn"], "did you mean --json?"),
    (["ports", "--jason"], "did you mean --json?"),
    (["bench", "--quik"], "did you mean --quick?"),
    (["rig", "check", "x.toml", "--conect"], "did you mean --connect?"),
    (["move", "--drive", "sim", "--too", "5"], "did you mean --to?"),
    (
        ["rig", "check", "recordings/rig.example.toml", "extra"],
        "focuscam rig check: unexpected argument 'extra'",
    ),
]


def test_bad_input_table_one_line_exit_2():
    argvs = [argv for argv, _ in BAD_INPUT]
    for (argv, text), proc in zip(BAD_INPUT, _many(argvs), strict=True):
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (argv, proc.returncode, proc.stderr)
        assert len(lines) == 1 and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert text in lines[0], (argv, lines[0])
        assert proc.stdout == "", argv


def test_a_mistyped_flag_names_the_subcommand_help_and_keeps_the_next_word():
    proc = run_cli("select", "--mesure", "teng", "recordings/target_color")
    assert proc.stderr.strip() == (
        "focuscam select: unknown option --mesure (did you mean --measure?); see focuscam select --help"
    )
    # no suggestion when nothing is near; abbreviations still work as in argparse
    far = run_cli("select", "--zzzzzz", "recordings/target_color")
    assert far.stderr.strip() == "focuscam select: unknown option --zzzzzz; see focuscam select --help"
    assert run_cli("select", "recordings/target_color", "--meas", "teng", "--json").returncode == 0


# --- the argument types, over arbitrary number strings -----------------------------------------

NUMBER_TYPES = sorted(
    {
        id(a.type): a.type
        for _, parser in _subparsers(build_parser())
        for a in parser._actions
        if isinstance(a.type, _args.Number | _args.Pair)
    }.values(),
    key=lambda t: (type(t).__name__, t.bounds, getattr(t, "strict", False)),
)
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="0123456789.-+eEinfa_ ,x*", max_size=40),
    st.tuples(st.floats(), st.floats()).map(lambda p: f"{p[0]!r},{p[1]!r}"),
    st.just("9" * 5000),
)


def _within(number: _args.Number, value) -> bool:
    ok = isinstance(value, int) if number.kind is int else isinstance(value, float)
    return ok and math.isfinite(value) and number.lo <= value <= number.hi


def check_number_type(kind, text):
    """A number type returns a finite value inside its bounds, or refuses in one short line."""
    try:
        value = kind(text)
    except argparse.ArgumentTypeError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 200
        assert "give" in message or "LO" in message or "MIN" in message
        return
    if isinstance(kind, _args.Pair):
        lo, hi = value
        assert _within(kind.number, lo) and _within(kind.number, hi)
        assert lo < hi if kind.strict else lo <= hi
    else:
        assert _within(kind, value)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.sampled_from(NUMBER_TYPES), NUMBER_TEXT)
def test_number_types_return_a_bounded_value_or_refuse_in_one_line(kind, text):
    check_number_type(kind, text)


@pytest.mark.large
@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, derandomize=True)
@given(st.sampled_from(NUMBER_TYPES), NUMBER_TEXT)
def test_number_types_ten_thousand_strings(kind, text):
    check_number_type(kind, text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.sampled_from([_args.grid_type, _args.roi_type, _args.bin_type, _args.limits_type]), NUMBER_TEXT)
def test_composite_types_return_bounded_values_or_refuse(kind, text):
    try:
        value = kind(text)
    except argparse.ArgumentTypeError as exc:
        assert "\n" not in str(exc)
        return
    if kind is _args.grid_type:
        assert all(1 <= v <= _args.MAX_GRID for v in value)
    elif kind is _args.roi_type:
        assert min(value) >= 0 and min(value.w, value.h) >= 1 and max(value) <= _args.MAX_PIXELS
    elif kind is _args.bin_type:
        assert value == "auto" or 1 <= value <= 16
    else:
        assert math.isfinite(value.lo) and value.lo <= value.hi


# --- ROIs print in the CLI's own syntax ----------------------------------------------------------


def test_rois_print_as_x_y_w_h():
    assert str(ROI(100, 80, 320, 240)) == "100,80,320,240"
    frame = np.zeros((240, 320), np.uint8)
    with pytest.raises(InputError) as info:
        measure(frame, roi=ROI(100, 80, 320, 240))
    assert "roi 100,80,320,240 leaves" in str(info.value) and "ROI(" not in str(info.value)
    proc = run_cli("select", "recordings/target_color", "--roi", "100,80,3200,240")
    assert proc.returncode == 2 and "--roi 100,80,3200,240 leaves" in proc.stderr, proc.stderr
    ok = run_cli("select", "recordings/target_color", "--roi", "10,20,200,150")
    assert "on ROI 10,20,200,150," in ok.stdout, ok.stdout
