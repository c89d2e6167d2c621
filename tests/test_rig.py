"""Rig files: a valid file loads into typed sections; each bad key or value is one line naming
the file, the key and what is allowed; command-line flags override the file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import REPO

from focuscam.errors import InputError
from focuscam.rig import RIG_FLAGS, Rig, apply_rig, load_rig, merge_cli, parse_rig
from focuscam.types import ROI, ZLimits

VALID = """\
name = "bench scope"

[camera]
source = "replay:stack"
size = [640, 480]
exposure = -6
gain = 2.5
fps = 30

[drive]
spec = "sim"
steps_per_um = 0.8
limits = [-500, 500]
backlash = 20
speed = 200.5
settle = 0.05

[autofocus]
measure = "lapv"
roi = [10, 20, 300, 200]
bin = "auto"
strategy = "sweep"
range = [-200, 200]
steps = 21
"""


def write(tmp_path: Path, text: str, name: str = "rig.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replace_line(text: str, key: str, new: str | None) -> str:
    """VALID with the line starting ``key =`` replaced by ``new`` (or removed when None)."""
    out = []
    for line in text.splitlines():
        if line.split("=")[0].strip() == key:
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def test_valid_file_loads_typed_sections(tmp_path):
    path = write(tmp_path, VALID)
    rig = load_rig(path)
    assert isinstance(rig, Rig)
    assert rig.path == path and rig.name == "bench scope"
    assert rig.camera.source == f"replay:{(tmp_path / 'stack').resolve()}"
    assert rig.camera.size == (640, 480) and rig.camera.exposure == -6.0 and rig.camera.gain == 2.5
    assert rig.camera.fps == 30.0
    assert rig.drive.spec == "sim" and rig.drive.steps_per_um == 0.8
    assert rig.drive.limits == ZLimits(-500.0, 500.0)
    assert (rig.drive.backlash_um, rig.drive.speed_um_s, rig.drive.settle_s) == (20.0, 200.5, 0.05)
    af = rig.autofocus
    assert af.measure == "lapv" and af.roi == ROI(10, 20, 300, 200) and af.bin == "auto"
    assert af.strategy == "sweep" and af.range_um == (-200.0, 200.0) and af.steps == 21
    # frozen
    with pytest.raises(AttributeError):
        rig.name = "other"  # type: ignore[misc]


def test_to_dict_round_trips_through_parse_rig(tmp_path):
    rig = load_rig(write(tmp_path, VALID))
    data = rig.to_dict()
    doc = {"name": data["name"]}
    for table in ("camera", "drive", "autofocus"):
        doc[table] = {k: v for k, v in data[table].items() if v is not None}
    again = parse_rig(doc, source="dict", path=None)
    assert again.camera == rig.camera and again.drive == rig.drive and again.autofocus == rig.autofocus


def test_empty_file_is_a_rig_with_nothing_set(tmp_path):
    rig = load_rig(write(tmp_path, ""))
    assert rig.camera.source is None and rig.drive.spec is None and rig.autofocus.measure is None
    assert rig.drive.settings() == {}


def test_drive_settings_are_open_drive_keywords(tmp_path):
    rig = load_rig(write(tmp_path, VALID))
    assert rig.drive.settings() == {
        "limits": ZLimits(-500.0, 500.0),
        "backlash_um": 20.0,
        "steps_per_um": 0.8,
        "speed_um_s": 200.5,
        "settle_s": 0.05,
    }


def test_absolute_and_camera_sources_are_kept(tmp_path):
    text = replace_line(VALID, "source", 'source = "camera:/dev/video2"')
    assert load_rig(write(tmp_path, text)).camera.source == "camera:/dev/video2"
    text = replace_line(VALID, "source", 'source = "video:/data/clip.mp4"')
    assert load_rig(write(tmp_path, text)).camera.source == "video:/data/clip.mp4"
    text = replace_line(VALID, "source", 'source = "0"')
    assert load_rig(write(tmp_path, text)).camera.source == "0"
    for url in ("rtsp://cam.local/stream", "camera:http://cam.local/video"):
        text = replace_line(VALID, "source", f'source = "{url}"')
        assert load_rig(write(tmp_path, text)).camera.source == url


# (key, replacement line, words the allowed-part must contain)
BAD_VALUES = [
    ("source", "source = 3", "source spec"),
    ("source", 'source = ""', "source spec"),
    ("source", 'source = "webcam:0"', "camera:0"),
    ("source", 'source = "replay:"', "replay:DIR"),
    ("size", "size = [640]", "two positive integers"),
    ("size", "size = [640, 0]", "two positive integers"),
    ("size", "size = [640.5, 480]", "two positive integers"),
    ("exposure", 'exposure = "bright"', "finite number"),
    ("exposure", "exposure = nan", "finite number"),
    ("gain", "gain = -1", ">= 0"),
    ("gain", "gain = true", ">= 0"),
    ("fps", "fps = 0", "> 0"),
    ("fps", "fps = inf", "> 0"),
    ("spec", 'spec = "teleport:/dev/x"', "grbl:PORT"),
    ("spec", "spec = 1", "grbl:PORT"),
    ("steps_per_um", "steps_per_um = -0.5", "> 0"),
    ("limits", "limits = [500, -500]", "min < max"),
    ("limits", "limits = [1, 2, 3]", "min < max"),
    ("limits", 'limits = ["a", "b"]', "min < max"),
    ("backlash", "backlash = -3", ">= 0"),
    ("speed", "speed = 0", "um/s"),
    ("settle", "settle = -0.1", "seconds"),
    ("measure", 'measure = "sharpness9000"', "lapv"),
    ("roi", "roi = [1, 2, 3]", "four integers"),
    ("roi", "roi = [-1, 2, 3, 4]", "four integers"),
    ("roi", "roi = [1, 2, 0, 4]", "four integers"),
    ("bin", "bin = 0", '"auto"'),
    ("bin", 'bin = "best"', '"auto"'),
    ("bin", "bin = 2.0", '"auto"'),
    ("strategy", 'strategy = "guess"', "sweep"),
    ("range", "range = [5, 5]", "lo < hi"),
    ("range", "range = [-600, 0]", "inside [drive] limits"),
    ("steps", "steps = 2", ">= 3"),
    ("roi", "roi = [600, 20, 100, 100]", "inside [camera] size"),
    ("steps", "steps = 10.5", ">= 3"),
]

TABLE_OF = {
    key: table
    for table, keys in {
        "camera": ["source", "size", "exposure", "gain", "fps"],
        "drive": ["spec", "steps_per_um", "limits", "backlash", "speed", "settle"],
        "autofocus": ["measure", "roi", "bin", "strategy", "range", "steps"],
    }.items()
    for key in keys
}


@pytest.mark.parametrize(("key", "line", "allowed"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_bad_value_is_one_line_naming_file_key_and_allowed(tmp_path, key, line, allowed):
    path = write(tmp_path, replace_line(VALID, key, line))
    with pytest.raises(InputError) as info:
        load_rig(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert f"[{TABLE_OF[key]}] {key}" in msg
    assert "allowed:" in msg and allowed in msg.split("allowed:", 1)[1]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[camera]\nexposur = 3\n", ["[camera] exposur", "source, size, exposure, gain, fps"]),
        ("[drive]\nport = 'x'\n", ["[drive] port", "steps_per_um"]),
        ("[autofocus]\nmesure = 'lapv'\n", ["[autofocus] mesure", "measure, roi, bin"]),
        ("[cam]\nsource = '0'\n", ["'cam'", "[camera], [drive], [autofocus]"]),
        ("camera = 3\n", ["camera = 3", "[camera] table"]),
        ("name = 7\n", ["name = 7", "non-empty string"]),
    ],
)
def test_unknown_keys_and_tables_are_named_with_what_is_allowed(tmp_path, text, names):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_rig(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    for name in names:
        assert name in msg


def test_missing_file_folder_and_bad_toml(tmp_path):
    with pytest.raises(InputError, match=r"not found: give the path of a rig TOML file"):
        load_rig(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=r"is a folder"):
        load_rig(tmp_path)
    path = write(tmp_path, "[camera\nsource = '0'\n")
    with pytest.raises(InputError) as info:
        load_rig(path)
    assert str(info.value).startswith(f"{path}: not valid TOML") and "line 1" in str(info.value)
    path = tmp_path / "latin.toml"
    path.write_bytes(b"name = '\xe9'\n")
    with pytest.raises(InputError, match="UTF-8"):
        load_rig(path)


def test_known_names_follow_the_registries(tmp_path):
    """Every registered measure and strategy name is accepted (the check is not a fixed list)."""
    from focuscam.measures import MEASURES
    from focuscam.search import STRATEGIES

    for name in MEASURES:
        load_rig(write(tmp_path, f"[autofocus]\nmeasure = {name!r}\n"))
    for name in STRATEGIES:
        load_rig(write(tmp_path, f"[autofocus]\nstrategy = {name!r}\n"))


# --------------------------------------------------------------------------- CLI overrides
def cli_parser() -> argparse.ArgumentParser:
    """A parser shaped like an autofocus command's: rig-able flags default to None."""
    p = argparse.ArgumentParser()
    p.add_argument("--rig")
    p.add_argument("--source")
    p.add_argument("--drive")
    p.add_argument("--measure")
    p.add_argument("--roi", type=ROI.parse)
    p.add_argument("--limits", type=ZLimits.parse)
    p.add_argument("--steps", type=int)
    p.add_argument("--json", action="store_true")
    return p


def test_flags_override_the_rig_and_fill_only_what_is_missing(tmp_path):
    path = write(tmp_path, VALID)
    args = cli_parser().parse_args(["--rig", str(path), "--measure", "teng", "--roi", "1,2,3,4"])
    merged = apply_rig(args)
    assert merged.measure == "teng"  # flag wins
    assert merged.roi == ROI(1, 2, 3, 4)  # flag wins
    assert merged.drive == "sim"  # from [drive] spec
    assert merged.source == f"replay:{(tmp_path / 'stack').resolve()}"
    assert merged.limits == ZLimits(-500.0, 500.0)
    assert merged.steps == 21
    assert merged.json is False
    assert not hasattr(merged, "strategy")  # the command has no --strategy: nothing added
    assert merged.rig_config.path == path
    assert args.measure == "teng" and args.drive is None  # the original is not modified


def test_merge_without_rig_is_a_copy():
    args = cli_parser().parse_args(["--measure", "lapv"])
    merged = apply_rig(args)
    assert vars(merged) == {**vars(args), "rig_config": None}
    assert merge_cli(None, args).measure == "lapv"


def test_every_rig_flag_names_a_real_field():
    rig = Rig()
    for dest, (table, name) in RIG_FLAGS.items():
        assert hasattr(getattr(rig, table), name), dest


def test_example_rig_in_recordings_is_valid():
    path = REPO / "recordings" / "rig.example.toml"
    rig = load_rig(path)
    assert rig.drive.spec == "sim"
    scheme, _, target = rig.camera.source.partition(":")
    assert scheme == "replay"
    assert (Path(target) / "stack.json").is_file(), "the example rig must point at a bundled recording"
