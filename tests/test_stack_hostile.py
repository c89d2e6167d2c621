"""Hostile and broken stacks (issue 12): one line, exit 2, bounded memory, nothing read outside.

Each case is a stack a user could be handed; ``focuscam select`` must refuse it with one
``focuscam: error:`` line naming the problem and exit 2, with a bounded peak memory (measured
as the child's maxrss), never following a link out of the stack folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import _cli_env
from stack_forge import blank_png, png_header, write_stack

from focuscam.errors import StackError
from focuscam.stacks import load_stack

#: Peak memory a refused stack may cost the process (MiB): the imports alone take ~200.
MAX_RSS_MIB = 450

#: Runs ``focuscam select`` (the real ``main``) on each stack in one process, reporting per stack
#: the exit code, stderr and the peak memory so far (VmHWM only grows: the last is the max).
_DRIVER = """
import contextlib, io, json, sys
from focuscam.cli import main
out = []
for path in sys.argv[1:]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["select", path])
    with open("/proc/self/status") as fh:  # VmHWM: this process's peak (ru_maxrss counts the parent's)
        rss = [int(x.split()[1]) / 1024.0 for x in fh if x.startswith("VmHWM:")][0]
    out.append({"path": path, "code": code, "stderr": err.getvalue(), "rss": rss})
print(json.dumps(out))
"""

CASES: dict[str, object] = {}


def case(fn):
    """Register a builder ``fn(tmp: Path) -> Path`` of a hostile stack, run by the batch below."""
    CASES[fn.__name__] = fn
    return fn


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Build every registered case and run them all through the CLI in one process."""
    paths = {name: str(build(tmp_path_factory.mktemp(name))) for name, build in CASES.items()}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *paths.values()],
        capture_output=True,
        text=True,
        timeout=600,
        env=_cli_env(),
    )
    assert proc.returncode == 0, proc.stderr
    by_path = {r["path"]: r for r in json.loads(proc.stdout)}
    return {name: by_path[p] for name, p in paths.items()}


def refused(results, name: str, *needles: str) -> str:
    r = results[name]
    lines = [x for x in r["stderr"].splitlines() if x.strip()]
    assert r["code"] == 2, r["stderr"]
    assert len(lines) == 1 and lines[0].startswith("focuscam: error:"), r["stderr"]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert r["rss"] < MAX_RSS_MIB, f"peak memory {r['rss']:.0f} MiB"
    return lines[0]


def _outside_image(tmp: Path) -> Path:
    write_stack(tmp / "outside")
    return tmp / "outside" / "frames" / "000001.png"


def _replace(path: Path, make) -> None:
    path.unlink()
    make(path)


# ---------------------------------------------------------------------- links and file kinds
@case
def frame_linked_outside(tmp):
    s = write_stack(tmp / "s")
    _replace(s / "frames" / "000002.png", lambda p: p.symlink_to(_outside_image(tmp)))
    return s


def test_a_frame_linked_outside_the_folder_is_refused(results):
    refused(results, "frame_linked_outside", "000002.png", "outside the stack folder")


@case
def frames_folder_linked_outside(tmp):
    s = write_stack(tmp / "s")
    (s / "frames").rename(tmp / "elsewhere")
    (s / "frames").symlink_to(tmp / "elsewhere")
    return s


def test_frames_folder_linked_outside_is_refused(results):
    refused(results, "frames_folder_linked_outside", "outside the stack folder")


@case
def frame_linked_to_environ(tmp):
    s = write_stack(tmp / "s")
    _replace(s / "frames" / "000000.png", lambda p: p.symlink_to("/proc/self/environ"))
    return s


def test_a_frame_linked_to_proc_self_environ_is_never_opened(results):
    line = refused(results, "frame_linked_to_environ", "outside the stack folder")
    s = Path(line.split("frame file ")[1].split("/frames/")[0])
    opened: list[str] = []

    def hook(event, args):
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # in-process too: not one open() of a path outside the folder
    with pytest.raises(StackError, match="outside"):
        stack = load_stack(s)
        for i in range(len(stack)):
            stack.image(i)
    assert not [p for p in opened if p.startswith("/proc")]


def test_links_inside_the_folder_are_fine(tmp_path):
    s = write_stack(tmp_path / "s")
    _replace(s / "frames" / "000003.png", lambda p: p.symlink_to("000001.png"))
    stack = load_stack(s)
    np.testing.assert_array_equal(stack.image(3), stack.image(1))


@case
def fifo_frame(tmp):
    s = write_stack(tmp / "s")
    _replace(s / "frames" / "000001.png", os.mkfifo)
    return s


def test_a_fifo_as_a_frame_is_refused_without_hanging(results):
    refused(results, "fifo_frame", "000001.png", "FIFO")


@case
def fifo_in_image_folder(tmp):
    folder = tmp / "imgs"
    folder.mkdir()
    (folder / "a.png").write_bytes(blank_png(8, 8))
    os.mkfifo(folder / "b.png")
    return folder


def test_a_fifo_in_an_image_folder_is_refused_without_hanging(results):
    refused(results, "fifo_in_image_folder", "b.png", "FIFO")


@case
def fifo_stack_json(tmp):
    s = write_stack(tmp / "s")
    _replace(s / "stack.json", os.mkfifo)
    return s


def test_stack_json_that_is_a_fifo_is_refused_without_hanging(results):
    refused(results, "fifo_stack_json", "FIFO")


def _mknod_zero(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers
    except OSError:
        path.write_bytes(b"")  # marks "no device node possible here"


@case
def device_frame(tmp):
    s = write_stack(tmp / "s")
    _replace(s / "frames" / "000001.png", _mknod_zero)
    return s


def test_a_device_as_a_frame_is_refused(results):
    if "not a readable image" in results["device_frame"]["stderr"]:
        pytest.skip("cannot create a device node here (not root); CI runs as root")
    refused(results, "device_frame", "000001.png", "character device")


# ---------------------------------------------------------------------- image headers
@case
def png_bomb(tmp):
    s = write_stack(tmp / "s")
    (s / "frames" / "000000.png").write_bytes(png_header(100_000, 100_000) + b"\0" * 64)
    return s


def test_a_png_declaring_100000_x_100000_is_refused_before_decoding(results):
    refused(results, "png_bomb", "100000 x 100000", "not decoded")


@case
def real_30000(tmp):
    s = write_stack(tmp / "s")
    (s / "frames" / "000002.png").write_bytes(blank_png(30_000, 30_000))
    return s


def test_a_real_30000_x_30000_frame_is_refused_from_its_header_against_frame_0(results):
    refused(results, "real_30000", "000002.png", "30000 x 30000", "read from their headers")


@case
def alternating_dtypes(tmp):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (24, 32)).astype(np.uint16 if k % 2 else np.uint8) for k in range(4)]
    return write_stack(tmp / "s", [f * 257 if f.dtype == np.uint16 else f for f in frames])


def test_frames_alternating_uint8_and_uint16_are_refused(results):
    refused(results, "alternating_dtypes", "000001.png", "dtype")


# ---------------------------------------------------------------------- stack.json
@case
def z_10_to_400(tmp):
    s = write_stack(tmp / "s")
    doc = (s / "stack.json").read_text().replace('"z": 1.0', '"z": 1' + "0" * 400, 1)
    (s / "stack.json").write_text(doc)
    return s


def test_a_z_of_10_to_the_400_is_refused(results):
    refused(results, "z_10_to_400", "'z' must be a finite number")


@case
def nested_100000(tmp):
    s = write_stack(tmp / "s")
    (s / "stack.json").write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return s


def test_json_nested_100000_deep_is_refused(results):
    refused(results, "nested_100000", "nests deeper than")


@case
def nested_500(tmp):
    return write_stack(tmp / "s", meta={"source": json.loads("[" * 500 + "]" * 500)})


def test_json_nested_deep_but_under_the_recursion_limit_is_refused(results):
    refused(results, "nested_500", "nests deeper than")


@case
def long_name(tmp):
    s = write_stack(tmp / "s")
    doc = json.loads((s / "stack.json").read_text())
    doc["frames"][1]["file"] = "frames/" + "é" * 200 + ".png"
    (s / "stack.json").write_text(json.dumps(doc))
    return s


def test_file_names_over_255_bytes_are_refused(results):
    refused(results, "long_name", "longer than 255 bytes")


@pytest.mark.parametrize(
    "name", ["frames/a\u0000.png", "/etc/passwd", "../s/frames/000000.png", "\ud800.png"]
)
def test_frame_names_that_cannot_be_inside_are_refused(tmp_path, name):
    s = write_stack(tmp_path / "s")
    doc = json.loads((s / "stack.json").read_text())
    doc["frames"][0]["file"] = name
    (s / "stack.json").write_text(json.dumps(doc))
    with pytest.raises(StackError, match="'file'"):
        load_stack(s)


@case
def five_million(tmp):
    s = write_stack(tmp / "s")
    head = '{"format": "focuscam-stack/1", "name": "big", "kind": "z-sweep", "z_unit": null, "frames": ['
    body = ",".join(['{"file":"frames/x.png","z":0}'] * 5_000_000)
    (s / "stack.json").write_text(head + body + "]}")
    return s


def test_a_5_million_entry_frame_list_is_refused_in_bounded_memory(results):
    refused(results, "five_million", "stack.json", "more than")


@case
def many_missing(tmp):
    s = write_stack(tmp / "s")
    doc = json.loads((s / "stack.json").read_text())
    doc["frames"] = doc["frames"] + [{"file": f"frames/{k:07d}.png", "z": 0} for k in range(300_000)]
    (s / "stack.json").write_text(json.dumps(doc))
    return s


def test_a_large_frame_list_with_a_missing_file_is_reported_in_bounded_memory(results):
    refused(results, "many_missing", "0000000.png", "missing")
