"""Every example in the README and in every ``--help`` runs as written (issue 16 item 2).

The examples are read from the README's shell blocks and from each subcommand's ``--help``
output, so a new example is tested the day it is written. Hardware is the only thing replaced,
each by the nearest real stand-in this machine has: ``camera:N`` by a replayed recording, a
GRBL port by the GRBL emulator on a real pseudo-terminal, our firmware's port by its host build
on a pty; ``video:clip.avi`` and ``frames/`` are made first. Everything else runs unchanged,
from a folder laid out like the checkout (``recordings/`` beside ``../shared``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED_STACKS, _cli_env

README = REPO / "README.md"
#: examples not run here: what needs a device nobody can stand in for (flashing a board, a
#: webcam's focus motor: UVC focus is tested against a fake capture in tests/drives/test_uvc.py),
#: and the benchmark, which takes minutes (tests/test_bench.py runs it with --quick)
NOT_RUN = {
    "flash": "flashes a real board",
    "uvc:": "needs a webcam with a focus motor",
    "focuscam bench": "a benchmark of minutes: tests/test_bench.py runs it",
    "picamera": "needs a Raspberry Pi camera (tests/test_picamera.py runs picamera2's stand-in)",
    "tcp://": "needs a running Dask cluster (tests/test_batch.py starts one as separate processes)",
}


def _readme_examples() -> list[str]:
    text = README.read_text()
    found = []
    for lang, block in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
        if lang not in ("sh", "bash", ""):
            continue
        for line in block.splitlines():
            line = line.strip()
            for prefix in (".venv/bin/focuscam ", "focuscam "):
                if line.startswith(prefix):
                    found.append("focuscam " + line[len(prefix) :])
    return found


def _help_texts() -> dict[str, str]:
    """The ``--help`` text of every subcommand (nested ones such as ``rig check`` too)."""
    from focuscam.cli import build_parser

    texts = {}

    def walk(parser, words: list[str]) -> None:
        subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subs:
            texts[" ".join(words)] = parser.format_help()
            return
        for name, sub in subs[0].choices.items():
            walk(sub, [*words, name])

    walk(build_parser(), [])
    return texts


def _help_examples() -> list[str]:
    found = []
    for text in _help_texts().values():
        for line in text.splitlines():
            if line.startswith("  focuscam "):
                # "  focuscam bench --quick    what it does": the command ends at a wide gap
                found.append(re.split(r"\s{3,}", line.strip(), maxsplit=1)[0])
    return found


def _collect() -> list[str]:
    seen: dict[str, None] = {}
    for ex in _readme_examples() + _help_examples():
        seen.setdefault(ex)
    return list(seen)


EXAMPLES = _collect()


@pytest.fixture(scope="module")
def example_inputs(tmp_path_factory) -> Path:
    """The examples' inputs, made once (see :func:`checkout_like`)."""
    return _make_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture
def checkout_like(example_inputs, tmp_path) -> Path:
    """A fresh copy of the inputs per example (examples write their outputs beside them)."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(example_inputs, work, symlinks=True)
    (tmp_path / "shared").symlink_to(SHARED_STACKS.parent)
    return work


def _make_inputs(tmp_path: Path) -> Path:
    """A folder laid out like the checkout: recordings/ (a copy), ../shared, and the examples'
    own inputs: camera/ (an 800x600 sequence standing in for a live camera), clip.avi, frames/,
    sweep.tif, my-rig.toml, and two small archives: plate1/ (stack folders) and scans/
    (multi-page TIFFs)."""
    import shutil

    import cv2

    from focuscam.synth import SynthParams, render_planes

    work = tmp_path / "work"
    shutil.copytree(REPO / "recordings", work / "recordings")
    from focuscam.stacks import save_stack

    # 9 planes: enough for the significance rule to test a peak (6 at the least)
    frames, _, _ = render_planes(SynthParams(planes=9, width=640, height=480, seed=3))
    # a live camera does not end: 9 planes shown 12 times over stand in for two minutes of one
    cam, _, _ = render_planes(SynthParams(planes=9, width=800, height=600, seed=4))
    cam = cam * 12
    save_stack(
        work / "camera", cam, np.arange(len(cam), dtype=float), z_unit="index", kind="sequence", name="camera"
    )
    cv2.imwritemulti(str(work / "sweep.tif"), [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
    rig = (REPO / "recordings" / "rig.example.toml").read_text()
    for name in ("my-rig.toml", "rig.toml"):
        (work / name).write_text(rig.replace("replay:target_color", "replay:recordings/target_color"))
    (work / "frames").mkdir()
    for i, img in enumerate(frames):
        cv2.imwrite(str(work / "frames" / f"img{i:02d}.png"), img)
    writer = cv2.VideoWriter(str(work / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for img in frames:
        writer.write(img)
    writer.release()
    import tifffile

    two_channels = np.stack([np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])] * 2)
    tifffile.imwrite(
        work / "stack.ome.tif",
        (two_channels[None].astype(np.uint16) * 200),
        ome=True,
        metadata={"axes": "TCZYX", "PhysicalSizeZ": 1.0, "PhysicalSizeZUnit": "µm"},
    )
    for k, well in enumerate(("A01", "A02")):
        small, zs, _ = render_planes(SynthParams(planes=11, width=160, height=120, seed=10 + k))
        save_stack(work / "plate1" / well / "f1", small, zs, z_unit="um", kind="z-sweep", name=well)
        (work / "scans").mkdir(exist_ok=True)
        gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in small]
        cv2.imwritemulti(str(work / "scans" / f"scan{k}.tif"), gray)
    return work


def _stand_ins(command: str, request) -> str:
    """Replace the hardware of one example by its stand-in; skip what cannot stand in."""
    for word, why in NOT_RUN.items():
        if word in command:
            pytest.skip(why)
    if re.search(r"(?<![\w-])camera:\d+", command):
        command = re.sub(r"(?<![\w-])camera:\d+", "replay:camera", command)
        if re.search(r"--(seconds|frames) ", command):  # a camera does not end: loop the stand-in
            command += " --loop"
    if (
        command.startswith("focuscam monitor")
        and "mm:" in command
        and not re.search(r"--(frames|seconds)", command)
    ):
        command += " --frames 10"  # a live camera runs until Ctrl-C: the stand-in stops by itself
    if "mm:MMConfig.cfg" in command:  # the user's Micro-Manager config: the bundled twin one
        command = command.replace("mm:MMConfig.cfg#ZPiezo", "mm:recordings/mm_twin.cfg#Z")
        command = command.replace("mm:MMConfig.cfg", "mm:recordings/mm_twin.cfg")
    if "grbl:/dev/" in command:
        from drives.grbl_emulator import GrblEmulator

        emu = GrblEmulator()
        request.addfinalizer(emu.close)
        command = re.sub(r"grbl:/dev/\S+", f"grbl:{emu.port}", command)
    if "sangaboard:/dev/" in command:
        from drives.sangaboard_emulator import SangaboardEmulator

        emu = SangaboardEmulator()
        request.addfinalizer(emu.close)
        command = re.sub(r"sangaboard:/dev/\S+", f"sangaboard:{emu.port}", command)
    if "focuscam:/dev/" in command:
        from firmware.peers import FirmwareProcess

        fw = FirmwareProcess("host")
        request.addfinalizer(fw.close)
        command = re.sub(r"focuscam:/dev/\S+", f"focuscam:{fw.port}", command)
    return command


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_as_written(example, checkout_like, tmp_path, request):
    command = _stand_ins(example, request)
    cwd = checkout_like
    if "--out recordings" in command:  # the wheel user's first step: an empty folder
        cwd = tmp_path / "empty"
        cwd.mkdir()
    # run as written by bash (globs, redirections and comments included); only the program differs
    argv = shlex.quote(sys.executable) + " -m " + command
    env = _cli_env()
    env.pop("DISPLAY", None)
    if command.startswith("focuscam serve"):
        _serve_until_ctrl_c(argv, cwd, env, example)
        return
    proc = subprocess.run(
        ["bash", "-c", argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    # 0, or 1: the command ran and reported that it found no clear focus (e.g. the per-region
    # fits of a 3-D scene); a usage, input or device error (2, 3) or an "error:" line fails
    assert proc.returncode in (0, 1), (
        f"{example}\n-> {command}\nexit {proc.returncode}\n{proc.stderr[-2000:]}"
    )
    assert "error:" not in proc.stderr, f"{example}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    assert os.path.isdir(cwd)


def _serve_until_ctrl_c(argv: str, cwd: Path, env: dict, example: str) -> None:
    """A server runs until Ctrl-C: wait for its URL (the first line), then Ctrl-C: exit 130."""
    import signal

    argv = argv.split(" #", 1)[0]  # a trailing comment
    if "--port" not in argv:
        argv += " --port 0"  # the port is the machine's: any free one stands in for 8000
    proc = subprocess.Popen(
        ["bash", "-c", "exec " + argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        import select

        ready, _, _ = select.select([proc.stdout], [], [], 300)  # the server's URL, or its exit
        assert ready, f"{example}: no URL within 300 s"
        first = proc.stdout.readline()
        assert first.startswith("http://"), f"{example}: first line {first!r}; {proc.stderr.read()[-2000:]}"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130, f"{example}: {proc.stderr.read()[-2000:]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_examples_were_found():
    assert len(EXAMPLES) >= 30
    subs = {ex.split()[1] for ex in EXAMPLES}
    assert {"select", "autofocus", "monitor", "record", "move", "evaluate", "demo", "synth"} <= subs
