"""The focuscam command itself: help, version, usage errors as one line with exit code 2."""

from __future__ import annotations


def test_help_lists_subcommands(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "usage: focuscam" in proc.stdout


def test_no_command_is_usage_error(run_cli):
    proc = run_cli()
    assert proc.returncode == 2


def test_unknown_flag_is_one_line(run_cli):
    proc = run_cli("--no-such-flag")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert "--no-such-flag" in proc.stderr
