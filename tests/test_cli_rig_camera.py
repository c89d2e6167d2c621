"""The rig's [camera] size, exposure, gain and fps reach a live camera's open_source options."""

from __future__ import annotations

import argparse

import pytest

from focuscam.cli.record import source_options
from focuscam.rig import load_rig

RIG = """
[camera]
source = "camera:0"
size = [1280, 720]
exposure = -6
gain = 2
fps = 15
"""


@pytest.fixture
def rig(tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text(RIG)
    return load_rig(path)


@pytest.mark.parametrize("spec", ["camera:0", "0", "camera:/dev/video2", "rtsp://cam/stream"])
def test_live_camera_gets_the_rig_camera_settings(rig, spec):
    args = argparse.Namespace(source=spec, rig_config=rig, fps=None, loop=False)
    assert source_options(args) == {"width": 1280, "height": 720, "exposure": -6, "gain": 2, "fps": 15}


def test_flag_fps_beats_the_rig(rig):
    args = argparse.Namespace(source="camera:0", rig_config=rig, fps=5.0, loop=False)
    assert source_options(args)["fps"] == 5.0


@pytest.mark.parametrize("spec", ["replay:recordings/target_color", "video:clip.avi", "clip.avi"])
def test_files_and_replays_do_not_get_camera_settings(rig, spec):
    args = argparse.Namespace(source=spec, rig_config=rig, fps=None, loop=False)
    assert source_options(args) == {}
