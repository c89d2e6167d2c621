"""Stacks: the focuscam-stack/1 format (load/save/StackWriter), image folders, TIFF and video."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from focuscam.errors import InputError, StackError, StorageError
from focuscam.stacks import FORMAT, Stack, StackWriter, load_stack, save_stack


def _frames_u8_bgr(n=4, h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _frames_u16(n=4, h=20, w=28, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 65536, (h, w), dtype=np.uint16) for _ in range(n)]


def _write_valid(tmp_path: Path, n=3) -> Path:
    return save_stack(tmp_path / "s", _frames_u8_bgr(n), z=[0.5 * k for k in range(n)], z_unit="um")


def _edit_json(folder: Path, edit) -> Path:
    meta = json.loads((folder / "stack.json").read_text())
    edit(meta)
    (folder / "stack.json").write_text(json.dumps(meta))
    return folder


# ---------------------------------------------------------------- round trips
def test_round_trip_u8_bgr_bit_exact(tmp_path):
    frames = _frames_u8_bgr()
    z = [-1.0, 0.0, 1.5, 3.0]
    truth = {"z": 0.0, "tolerance": 0.5, "basis": "test"}
    save_stack(tmp_path / "s", frames, z, z_unit="mm", truth=truth, t=[1.0, 2.0, 3.0, 4.0], description="d")
    stack = load_stack(tmp_path / "s")
    assert len(stack) == 4
    assert stack.z_unit == "mm" and stack.kind == "z-sweep" and stack.name == "s"
    assert stack.truth == truth
    np.testing.assert_array_equal(stack.z, z)
    np.testing.assert_array_equal(stack.t, [1.0, 2.0, 3.0, 4.0])
    for a, b in zip(frames, stack.images(), strict=True):
        assert b.dtype == np.uint8 and b.shape == a.shape
        np.testing.assert_array_equal(a, b)
    assert stack.meta["format"] == FORMAT
    assert all(f.suffix == ".png" and f.is_file() for f in stack.files)


def test_round_trip_u16_gray_bit_exact(tmp_path):
    frames = _frames_u16()
    save_stack(tmp_path / "g", frames)
    stack = load_stack(tmp_path / "g" / "stack.json")
    assert stack.z_unit == "index"
    np.testing.assert_array_equal(stack.z, np.arange(4))
    assert stack.t is None
    for a, b in zip(frames, stack.images(), strict=True):
        assert b.dtype == np.uint16
        np.testing.assert_array_equal(a, b)


def test_null_z_is_nan_and_extra_keys_kept(tmp_path):
    save_stack(
        tmp_path / "s",
        _frames_u16(3),
        z=[None, 1.0, None],
        kind="sequence",
        extra={"modality": "brightfield", "generator": {"command": "x"}},
    )
    stack = load_stack(tmp_path / "s")
    assert np.isnan(stack.z[0]) and stack.z[1] == 1.0 and np.isnan(stack.z[2])
    assert stack.modality == "brightfield"
    assert stack.meta["generator"] == {"command": "x"}
    assert stack.kind == "sequence"


def test_save_replaces_stack_but_refuses_other_folder(tmp_path):
    _write_valid(tmp_path, 3)
    save_stack(tmp_path / "s", _frames_u16(2))
    assert len(load_stack(tmp_path / "s")) == 2
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(StackError, match="not a stack folder"):
        save_stack(other, _frames_u16(2))
    assert (other / "keep.txt").read_text() == "precious"


def test_save_is_atomic_on_failure(tmp_path):
    good = _frames_u16(3)

    def frames():
        yield from good
        raise RuntimeError("camera died")

    with pytest.raises(RuntimeError):
        save_stack(tmp_path / "s", frames())
    assert list(tmp_path.iterdir()) == []

    # a bad frame in the middle: nothing at all on disk, not even a temporary folder
    with pytest.raises(InputError, match=r"frames\[1\]"):
        save_stack(tmp_path / "s", [good[0], good[1][:5], good[2]])
    assert list(tmp_path.iterdir()) == []


def test_save_failure_during_write_leaves_previous_stack(tmp_path, monkeypatch):
    _write_valid(tmp_path, 3)
    import focuscam.stacks.writer as mod

    calls = {"n": 0}
    real = mod._encode_png

    def failing(img):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real(img)

    monkeypatch.setattr(mod, "_encode_png", failing)
    with pytest.raises(StorageError, match="No space left"):
        save_stack(tmp_path / "s", _frames_u16(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    assert len(load_stack(tmp_path / "s")) == 3


def test_save_rejects_float_frames(tmp_path):
    with pytest.raises(InputError, match="uint8 or uint16"):
        save_stack(tmp_path / "s", [np.zeros((4, 4), np.float32)])


# ---------------------------------------------------------------- StackWriter
def test_stack_writer_valid_after_every_flush(tmp_path):
    frames = _frames_u8_bgr(7)
    path = tmp_path / "rec"
    with StackWriter(path, name="rec", kind="z-sweep", z_unit="um", flush_every=3) as w:
        for k, img in enumerate(frames):
            assert w.append(img, z=10.0 * k, t=100.0 + k) == k
            # the stack on disk lists every frame at every moment (stack.json + journal)
            assert len(load_stack(path)) == k + 1
    stack = load_stack(path)
    assert len(stack) == 7 and stack.z_unit == "um" and stack.kind == "z-sweep"
    np.testing.assert_array_equal(stack.z, 10.0 * np.arange(7))
    np.testing.assert_array_equal(stack.t, 100.0 + np.arange(7))
    for a, b in zip(frames, stack.images(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_stack_writer_exception_in_block_still_leaves_valid_stack(tmp_path):
    path = tmp_path / "rec"
    frames = _frames_u16(5)
    with pytest.raises(KeyboardInterrupt), StackWriter(path, name="rec", flush_every=100) as w:
        for img in frames:
            w.append(img)
        raise KeyboardInterrupt
    stack = load_stack(path)
    assert len(stack) == 5
    assert stack.z_unit is None and stack.kind == "sequence"
    for a, b in zip(frames, stack.images(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_stack_writer_disk_full_is_clear_error(tmp_path, monkeypatch):
    import focuscam.stacks.writer as mod

    path = tmp_path / "rec"
    real = mod._encode_png
    w = StackWriter(path, name="rec", flush_every=2)
    for img in _frames_u16(3):
        w.append(img)
    monkeypatch.setattr(mod, "_encode_png", lambda img: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(StorageError, match=r"3 frames are saved") as info:
        w.append(_frames_u16(1)[0])
    assert "No space left" in str(info.value)
    monkeypatch.setattr(mod, "_encode_png", real)
    w.close()
    assert len(load_stack(path)) == 3


def test_stack_writer_refuses_bad_frames_and_existing_folder(tmp_path):
    path = tmp_path / "rec"
    with StackWriter(path, name="rec") as w:
        w.append(np.zeros((8, 8), np.uint8))
        with pytest.raises(InputError, match="same shape"):
            w.append(np.zeros((8, 9), np.uint8))
        with pytest.raises(InputError, match="z"):
            w.append(np.zeros((8, 8), np.uint8), z=float("nan"))
    with pytest.raises(StackError, match="already exists"):
        StackWriter(path, name="again")
    with pytest.raises(StackError, match="closed"):
        w.append(np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="flush_every"):
        StackWriter(tmp_path / "x", name="x", flush_every=0)


def test_stack_writer_without_frames_leaves_nothing(tmp_path):
    with StackWriter(tmp_path / "rec", name="rec"):
        pass
    assert not (tmp_path / "rec").exists()


# ---------------------------------------------------------------- malformed stack.json
@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda m: m.update(format="focuscam-stack/2"), "format"),
        (lambda m: m.pop("frames"), "'frames'"),
        (lambda m: m.pop("z_unit"), "'z_unit'"),
        (lambda m: m.update(kind="sweep"), "'kind'"),
        (lambda m: m.update(z_unit="inch"), "'z_unit'"),
        (lambda m: m.update(name=3), "'name'"),
        (lambda m: m.update(frames="frames/"), "'frames'"),
        (lambda m: m.update(frames=[]), "'frames'"),
        (lambda m: m["frames"][1].update(z="1.0"), r"frames\[1\]"),
        (lambda m: m["frames"][1].pop("file"), r"frames\[1\]"),
        (lambda m: m["frames"][0].update(t="now"), r"frames\[0\]"),
        (lambda m: m.update(truth={"z": "x", "tolerance": 1}), "'truth'"),
        (lambda m: m["frames"][0].update(file="../../etc/passwd"), "outside"),
    ],
)
def test_malformed_stack_json_names_the_file(tmp_path, edit, needle):
    folder = _edit_json(_write_valid(tmp_path), edit)
    with pytest.raises(StackError, match=needle) as info:
        load_stack(folder)
    msg = str(info.value)
    assert "stack.json" in msg and "\n" not in msg


def test_invalid_json_is_one_line(tmp_path):
    folder = _write_valid(tmp_path)
    (folder / "stack.json").write_text('{"format": "focuscam-stack/1", "frames": [')
    with pytest.raises(StackError, match="not valid JSON") as info:
        load_stack(folder)
    assert str(folder / "stack.json") in str(info.value)


def test_missing_frame_file_named(tmp_path):
    folder = _write_valid(tmp_path)
    (folder / "frames" / "000001.png").unlink()
    with pytest.raises(StackError, match=r"000001\.png.*missing"):
        load_stack(folder)


def test_undecodable_frame_named(tmp_path):
    folder = _write_valid(tmp_path)
    (folder / "frames" / "000002.png").write_bytes(b"this is not a png at all")
    stack = load_stack(folder)  # lazily decoded
    stack.image(0)
    with pytest.raises(StackError, match=r"000002\.png.*not a readable image"):
        stack.image(2)


def test_mixed_shapes_named(tmp_path):
    folder = _write_valid(tmp_path)
    cv2.imwrite(str(folder / "frames" / "000001.png"), np.zeros((10, 10, 3), np.uint8))
    stack = load_stack(folder)
    with pytest.raises(StackError, match=r"000001\.png.*shape"):
        list(stack.images())
    # even when frame 1 is asked for first, it is compared against frame 0
    with pytest.raises(StackError, match=r"000001\.png"):
        load_stack(folder).image(1)


def test_missing_path_and_unknown_file(tmp_path):
    with pytest.raises(StackError, match="does not exist"):
        load_stack(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(StackError, match="not a stack"):
        load_stack(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StackError, match="no images"):
        load_stack(tmp_path / "empty")


# ---------------------------------------------------------------- other sources
def test_image_folder_natural_sort(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    values = {"img10.png": 10, "img2.png": 2, "img1.png": 1, "IMG3.png": 3}
    for name, v in values.items():
        cv2.imwrite(str(folder / name), np.full((6, 7), v, np.uint8))
    (folder / "readme.txt").write_text("ignored")
    stack = load_stack(folder)
    assert [f.name for f in stack.files] == ["img1.png", "img2.png", "IMG3.png", "img10.png"]
    assert [int(img[0, 0]) for img in stack.images()] == [1, 2, 3, 10]
    assert stack.z_unit == "index"
    np.testing.assert_array_equal(stack.z, [0, 1, 2, 3])


def test_multipage_tiff(tmp_path):
    frames = _frames_u16(5)
    path = tmp_path / "stack.tif"
    assert cv2.imwritemulti(str(path), frames)
    stack = load_stack(path)
    assert len(stack) == 5 and stack.z_unit == "index"
    for a, b in zip(frames, stack.images(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_video_file(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    levels = [20, 120, 220, 60, 180, 90]
    for v in levels:
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    stack = load_stack(path)
    assert len(stack) == len(levels)
    np.testing.assert_array_equal(stack.z, np.arange(len(levels)))
    assert stack.image(0).shape == (48, 64, 3)
    means = [float(img.mean()) for img in stack.images()]
    np.testing.assert_allclose(means, levels, atol=4)  # lossy codec: order and level survive


def test_undecodable_video_and_tiff(tmp_path):
    (tmp_path / "bad.avi").write_bytes(b"garbage" * 10)
    with pytest.raises(StackError, match=r"bad\.avi"):
        load_stack(tmp_path / "bad.avi")
    (tmp_path / "bad.tif").write_bytes(b"garbage" * 10)
    with pytest.raises(StackError, match=r"bad\.tif"):
        load_stack(tmp_path / "bad.tif")


def test_from_frames_and_index_errors():
    frames = _frames_u16(3)
    stack = Stack.from_frames(frames, z=[1, 2, 3], z_unit="um")
    assert len(stack) == 3 and stack.z_unit == "um" and stack.shape == frames[0].shape
    assert stack.image(-1) is frames[2]
    with pytest.raises(IndexError):
        stack.image(3)
    with pytest.raises(InputError, match="same size"):
        Stack.from_frames([frames[0], frames[1][:3]])
    with pytest.raises(InputError, match="one z per frame"):
        Stack.from_frames(frames, z=[1, 2])


def test_cache_is_bounded(tmp_path):
    save_stack(tmp_path / "s", _frames_u16(20, 4, 4))
    stack = load_stack(tmp_path / "s")
    for img in stack.images():
        assert img.shape == (4, 4)
    assert len(stack._cache) <= 8


@pytest.mark.shared
def test_reads_every_shared_stack():
    from conftest import SHARED_STACKS, shared_stack

    shared_stack("fpd_webcam_rep1")
    for folder in sorted(p for p in SHARED_STACKS.iterdir() if (p / "stack.json").is_file()):
        stack = load_stack(folder)
        assert len(stack) == len(stack.meta["frames"]) > 0
        first, last = stack.image(0), stack.image(len(stack) - 1)
        assert first.shape == last.shape
        assert os.fspath(stack.files[0]).startswith(os.fspath(folder))
