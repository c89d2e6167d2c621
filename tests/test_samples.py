"""The sample recordings for people without the checkout: `focuscam demo --out`, and a wheel install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, _cli_env

from focuscam.errors import InputError
from focuscam.samples import SAMPLES, rig_example_text, write_samples
from focuscam.stacks import load_stack
from focuscam.synth import SynthParams


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_are_the_recipes_of_the_bundled_recordings(name):
    meta = json.loads((REPO / "recordings" / name / "stack.json").read_text())
    assert SAMPLES[name] == SynthParams(**meta["generator"]["params"])


def test_the_packaged_rig_example_is_the_one_in_recordings():
    assert rig_example_text() == (REPO / "recordings" / "rig.example.toml").read_text()


def test_write_samples_makes_the_bundled_pixels_and_never_overwrites(tmp_path):
    out = write_samples(tmp_path / "rec", names=("cells_gray16",))
    mine, bundled = load_stack(out / "cells_gray16"), load_stack(REPO / "recordings" / "cells_gray16")
    assert all(np.array_equal(a, b) for a, b in zip(mine.images(), bundled.images(), strict=True))
    assert (out / "rig.example.toml").is_file()
    (tmp_path / "rec" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        write_samples(tmp_path / "rec", names=("cells_gray16",))
    assert (tmp_path / "rec" / "notes.txt").read_text() == "mine"


def _next_commands(stdout: str) -> list[list[str]]:
    """The `focuscam ...` commands a demo run suggests on its `next:` lines."""
    cmds, seen = [], False
    for line in stdout.splitlines():
        seen = seen or "next:" in line
        text = line.split("next:", 1)[-1].strip()
        if seen and text.startswith("focuscam "):
            cmds.append(text.split("   (")[0].split())
    return cmds


def test_demo_out_writes_the_samples_and_its_suggestions_run(run_cli, tmp_path):
    proc = run_cli("demo", "--out", "recordings")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "recordings" / "target_color" / "stack.json").is_file()
    assert (tmp_path / "recordings" / "cells_gray16" / "stack.json").is_file()
    cmds = _next_commands(proc.stdout)
    assert len(cmds) == 2
    for cmd in cmds:
        done = run_cli(*cmd[1:])
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    again = run_cli("demo", "--out", "recordings")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists" in again.stderr


# ---------------------------------------------------------------------- a wheel, in an unrelated folder
@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv with focuscam installed from a wheel built from this checkout.

    The dependencies come from the test run's own environment (a .pth file), so nothing is
    downloaded; focuscam itself is only the wheel's copy.
    """
    root = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("focuscam-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "focuscam-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inst.returncode == 0, inst.stderr[-3000:]
    return env_dir


def test_a_wheel_user_gets_working_demo_suggestions_and_examples(wheel_venv, tmp_path):
    env = _cli_env()
    env.pop("FOCUSCAM_RECORDINGS", None)
    exe = wheel_venv / "bin" / "focuscam"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(exe), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
        )

    where = subprocess.run(
        [wheel_venv / "bin" / "python", "-c", "import focuscam; print(focuscam.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert str(wheel_venv) in where.stdout, where.stdout + where.stderr
    first = run("demo")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "is not here" not in first.stdout
    (suggested,) = _next_commands(first.stdout)
    assert suggested == ["focuscam", "demo", "--out", "recordings"]
    second = run(*suggested[1:])
    assert second.returncode == 0, second.stdout + second.stderr
    for cmd in _next_commands(second.stdout):
        done = run(*cmd[1:])
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    # what the README points a newcomer to, from this unrelated folder
    for args in (
        ["rig", "check", "recordings/rig.example.toml"],
        ["select", "recordings/target_color"],
        ["select", "recordings/cells_gray16", "--json"],
        ["autofocus", "--rig", "recordings/rig.example.toml", "--json"],
    ):
        done = run(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert not any(p.name.endswith(".pth") for p in tmp_path.iterdir())
    assert sorted(os.listdir(tmp_path)) == ["curve.png", "recordings"]  # what the suggestions write
