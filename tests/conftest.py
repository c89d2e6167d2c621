"""Shared fixtures: where ../shared/stacks is, and running the CLI as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_STACKS = Path(os.environ.get("FOCUSCAM_SHARED", REPO.parent / "shared")) / "stacks"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# a separate example project, run as its own pytest session by tests/test_testing.py
collect_ignore = ["example_project"]


def pytest_collection_modifyitems(config, items):
    """Tests marked ``large`` (10,000+ property/fuzz examples, minutes each) run only when asked
    for by marker: ``pytest -m slow`` or ``pytest -m large``; the default run has their
    fixed-seed subsets."""
    expr = config.getoption("markexpr") or ""
    if "slow" in expr or "large" in expr:
        return
    skip = pytest.mark.skip(reason="10,000+ examples: run with pytest -m slow (see README, Tests)")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


def shared_stack(name: str) -> Path:
    """Path of a stack in ../shared/stacks; skips locally (fails in CI) when it is missing."""
    path = SHARED_STACKS / name
    if not (path / "stack.json").is_file():
        if IN_CI:
            pytest.fail(f"shared stack {path} is missing in CI: ../shared must sit beside the clone")
        pytest.skip(f"shared stack {path} not found (place ../shared beside the checkout)")
    return path


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONWARNINGS", "error")
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run ``python -m focuscam ARGS`` as a process; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 300, cwd: Path | None = None, input: str | None = None):
        return subprocess.run(
            [sys.executable, "-m", "focuscam", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or tmp_path,
            env=_cli_env(),
            input=input,
        )

    return run


@pytest.fixture
def spawn_cli(tmp_path):
    """Start ``python -m focuscam ARGS`` in the background (text pipes); returns the Popen.

    For tests that interact with a running command (Ctrl-C, unplugging its camera). Whatever
    still runs when the test ends is killed, so the tests need no try/finally of their own.
    """
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "focuscam", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd or tmp_path,
            env=_cli_env(),
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
