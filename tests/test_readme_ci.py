"""The README's two quick-start lines and .ci/run agree."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def _line(which: str) -> str:
    return subprocess.run(
        [sys.executable, str(REPO / ".ci" / "readme_commands.py"), which],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_quick_start_has_main_and_test_lines():
    main, test = _line("main"), _line("test")
    assert "focuscam demo" in main
    assert "pytest" in test
    assert main.startswith("python3 -m venv .venv") and test.startswith("python3 -m venv .venv")


def test_ci_runs_the_readme_test_line():
    ci = (REPO / ".ci" / "run").read_text()
    assert "readme_commands.py test" in ci
    assert 'bash -euo pipefail -c "$test_line"' in ci
