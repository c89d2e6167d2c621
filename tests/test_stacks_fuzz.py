"""Fuzzing the stack reader: random and mutated stack.json, journals and image files.

Property: :func:`load_stack` plus decoding every frame either succeeds or raises a
:class:`~focuscam.errors.StackError` (one line, exit 2 in the CLI); never another exception,
never a hang (FIFOs and devices are covered in test_stack_hostile.py). A fixed-seed subset
runs by default (counts asserted and printed); ``-m slow`` runs 10,000 examples per target.
"""

from __future__ import annotations

import collections
import json
import shutil
import struct
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stack_forge import png_chunk, png_header, write_stack

from focuscam.errors import StackError
from focuscam.stacks import JOURNAL, load_stack

QUICK, SLOW = 200, 10_000
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _settings(n: int):
    return settings(
        max_examples=n,
        derandomize=True,  # a fixed seed: the same examples on every run and in CI
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def base():
    """A valid 3-frame stack; each example rewrites only what it fuzzes (see :func:`_reset`)."""
    tmp = Path(tempfile.mkdtemp(prefix="focuscam-fuzz-"))
    s = write_stack(tmp / "s", [np.full((12, 16), k * 40, np.uint8) for k in range(3)])
    originals = {p: p.read_bytes() for p in [s / "stack.json", *sorted((s / "frames").iterdir())]}
    yield s, originals
    shutil.rmtree(tmp, ignore_errors=True)


def _reset(base) -> Path:
    """Put the valid stack back (stack.json, the frames; no journal)."""
    s, originals = base
    for path, data in originals.items():
        path.write_bytes(data)
    (s / JOURNAL).unlink(missing_ok=True)
    return s


def _outcome(target: str, folder: Path) -> None:
    """Load and decode everything; record ok / refused; any other exception fails the test."""
    try:
        stack = load_stack(folder)
        for i in range(len(stack)):
            stack.image(i)
    except StackError as exc:
        message = str(exc)
        assert "\n" not in message and message
        OUTCOMES[target]["refused"] += 1
    else:
        OUTCOMES[target]["ok"] += 1


# ---------------------------------------------------------------------- stack.json
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=False),
    st.text(max_size=300),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
_names = st.one_of(
    st.sampled_from(["frames/000000.png", "frames/000001.png", "frames", ".", "stack.json", "/etc/passwd"]),
    st.text(max_size=300),
    st.builds(lambda n: "frames/" + "a" * n + ".png", st.integers(0, 400)),
    st.sampled_from(
        ["../base/frames/000000.png", "frames/../../x", "a\x00b", "\ud800", "frames\\000000.png"]
    ),
)
_entries = st.fixed_dictionaries(
    {"file": _names, "z": st.one_of(_scalars, _json)},
    optional={"t": _scalars},
)
_doc_keys = ("format", "name", "kind", "description", "z_unit", "frames", "truth", "modality")


@st.composite
def stack_docs(draw):
    """A stack.json document: valid-looking with a few fields replaced, deleted or fuzzed."""
    doc = {
        "format": "focuscam-stack/1",
        "name": "s",
        "kind": "z-sweep",
        "description": "",
        "z_unit": "um",
        "frames": [{"file": f"frames/{k:06d}.png", "z": float(k)} for k in range(3)],
        "truth": None,
    }
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(_doc_keys))
        action = draw(st.sampled_from(["replace", "delete", "entries"]))
        if action == "delete":
            doc.pop(key, None)
        elif action == "entries":
            doc["frames"] = draw(st.lists(_entries, max_size=5))
        else:
            doc[key] = draw(_json)
    return doc


@st.composite
def stack_json_texts(draw):
    """stack.json text: a fuzzed document, possibly cut short, or any JSON or bytes at all."""
    kind = draw(st.sampled_from(["doc", "doc", "cut", "json", "bytes", "deep"]))
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        n = draw(st.integers(1, 200_000))
        return ('{"format": ' + "[" * n + "]" * n + "}").encode()
    text = json.dumps(draw(stack_docs())).encode("utf-8", "surrogatepass")
    if kind == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _fuzz_stack_json(base, text, journal):
    s = _reset(base)
    (s / "stack.json").write_bytes(text)
    if journal is not None:
        (s / JOURNAL).write_bytes(journal)
    _outcome("stack.json", s)


_journals = st.none() | st.lists(
    st.one_of(
        st.builds(lambda e: json.dumps(e).encode("utf-8", "surrogatepass"), _entries),
        st.binary(max_size=40),
    ),
    max_size=4,
).map(lambda lines: b"\n".join(lines))


@_settings(QUICK)
@given(text=stack_json_texts(), journal=_journals)
def test_fuzz_stack_json_quick(base, text, journal):
    _fuzz_stack_json(base, text, journal)


@pytest.mark.large
@pytest.mark.slow
@_settings(SLOW)
@given(text=stack_json_texts(), journal=_journals)
def test_fuzz_stack_json_10000(base, text, journal):
    _fuzz_stack_json(base, text, journal)


# ---------------------------------------------------------------------- image files
def _png_of(img) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


_valid = {
    "png8": _png_of(np.full((12, 16), 7, np.uint8)),
    "png16": _png_of(np.full((12, 16), 700, np.uint16)),
    "pngbgr": _png_of(np.full((12, 16, 3), 7, np.uint8)),
    "jpeg": cv2.imencode(".jpg", np.full((12, 16), 7, np.uint8))[1].tobytes(),
    "tiff": cv2.imencode(".tif", np.full((12, 16), 7, np.uint16))[1].tobytes(),
    "bmp": cv2.imencode(".bmp", np.full((12, 16), 7, np.uint8))[1].tobytes(),
    "pgm": cv2.imencode(".pgm", np.full((12, 16), 7, np.uint8))[1].tobytes(),
}
_sizes = st.one_of(
    st.integers(0, 64), st.sampled_from([1 << 16, 30_000, 100_000, (1 << 31) - 1, (1 << 32) - 1])
)


@st.composite
def image_bytes(draw):
    """An image file: valid, truncated, bit-flipped, a forged header, or random bytes."""
    kind = draw(st.sampled_from(["valid", "cut", "flip", "forged", "random", "magic"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    if kind == "forged":
        w, h = draw(_sizes), draw(_sizes)
        depth, color = draw(st.sampled_from([1, 2, 4, 8, 16, 3])), draw(st.sampled_from([0, 2, 3, 4, 6, 7]))
        idat = png_chunk(b"IDAT", draw(st.binary(max_size=100)))
        return png_header(w, h, depth, color) + idat + png_chunk(b"IEND", b"")
    if kind == "magic":
        magic = draw(
            st.sampled_from([b"\xff\xd8", b"II*\x00", b"MM\x00*", b"II+\x00", b"BM", b"P5", b"RIFF"])
        )
        tail = draw(st.binary(max_size=120))
        if magic == b"II*\x00":
            tail = struct.pack("<I", draw(st.integers(0, 200))) + tail
        return magic + tail
    data = bytearray(_valid[draw(st.sampled_from(sorted(_valid)))])
    if kind == "cut":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


def _fuzz_image(base, frame, data):
    s = _reset(base)
    (s / "frames" / f"{frame:06d}.png").write_bytes(data)
    _outcome("image", s)


@_settings(QUICK)
@given(frame=st.integers(0, 2), data=image_bytes())
def test_fuzz_image_files_quick(base, frame, data):
    _fuzz_image(base, frame, data)


@pytest.mark.large
@pytest.mark.slow
@_settings(SLOW)
@given(frame=st.integers(0, 2), data=image_bytes())
def test_fuzz_image_files_10000(base, frame, data):
    _fuzz_image(base, frame, data)


def test_fuzz_counts():
    """The summary of the runs above (run in this file's order): every example was checked."""
    for target, counts in sorted(OUTCOMES.items()):
        total = sum(counts.values())
        print(f"fuzz {target}: {total} examples, {counts['ok']} read, {counts['refused']} refused")
    for target in ("stack.json", "image"):
        if target in OUTCOMES:
            counts = OUTCOMES[target]
            assert sum(counts.values()) >= QUICK, counts
            assert counts["ok"] > 0 and counts["refused"] > 0, counts  # both sides were exercised


@pytest.mark.large
@pytest.mark.slow
def test_fuzz_counts_10000():
    """After ``-m slow``: at least 10,000 examples per target were checked."""
    for target in ("stack.json", "image"):
        counts = OUTCOMES[target]
        total = sum(counts.values())
        print(f"fuzz {target}: {total} examples, {counts['ok']} read, {counts['refused']} refused")
        assert total >= SLOW, counts
