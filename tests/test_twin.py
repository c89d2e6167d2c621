"""The digital twin: recorded planes served at the simulated drive's position, on its clock."""

from __future__ import annotations

import numpy as np
import pytest
from twin_helpers import index_stack

from focuscam.drives.sim import SimulatedDrive
from focuscam.errors import InputError
from focuscam.stacks import save_stack
from focuscam.twin import TwinSource, make_twin

Z = [0.0, 10.0, 20.0, 30.0, 40.0]


def plane_of(frame):
    return int(frame.pixels[0, 0]) - 1


@pytest.mark.parametrize("target", [0.0, 4.9, 5.1, 17.0, 26.0, 40.0])
def test_serves_the_plane_nearest_to_the_drive(tmp_path, target):
    src, drive = make_twin(index_stack(tmp_path / "s", Z), start_um=0.0)
    drive.move_to(target)
    frame = src.fresh_frame(after=drive.clock.now())
    assert plane_of(frame) == int(np.argmin(np.abs(np.array(Z) - target)))
    assert frame.z == pytest.approx(target)


def test_mm_stacks_become_um(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "s", [-2.0, -1.0, 0.0], unit="mm"))
    assert src.z_range_um == (-2000.0, 0.0)
    assert drive.limits.lo == -2000.0 and drive.limits.hi == 0.0
    drive.move_to(-1100.0)
    assert plane_of(src.fresh_frame(after=drive.clock.now())) == 1


def test_index_stacks_are_one_um_per_plane(tmp_path):
    src, _ = make_twin(index_stack(tmp_path / "s", [0.0, 1.0, 2.0, 3.0], unit="index"))
    assert src.z_range_um == (0.0, 3.0) and src.spacing_um == 1.0


def test_frames_tick_on_the_drive_clock(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "s", Z), fps=20.0)
    times = [src.read().t for _ in range(5)]
    assert np.allclose(np.diff(times), 1 / 20.0)
    assert drive.clock.now() == pytest.approx(times[-1])


def test_buffered_frames_after_a_move_are_stale_and_fresh_frame_skips_them(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "s", Z), start_um=0.0, buffer=2, settle_s=0.1)
    src.read()
    drive.move_to(40.0)
    t_done = drive.clock.now()
    stale = src.read()
    assert stale.t < t_done  # captured during the move or the settle time
    assert src.dropped > 0
    fresh = src.fresh_frame(after=t_done)
    assert fresh.t > t_done
    assert plane_of(fresh) == 4


def test_frames_between_carry_the_positions_of_the_move(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "s", Z), start_um=0.0, sweep_s=1.0, fps=30.0)
    t0 = drive.clock.now()
    drive.move_to(40.0)
    frames = src.frames_between(t0, drive.clock.now())
    assert len(frames) >= 25
    zs = [f.z for f in frames]
    assert all(np.diff(zs) >= 0)  # the move was monotonic
    for f in frames:
        assert f.z == pytest.approx(drive.position_at(f.t))
        assert plane_of(f) == int(np.argmin(np.abs(np.array(Z) - f.z)))


def test_blend_mixes_the_two_nearest_planes(tmp_path):
    frames = [np.full((4, 4), v, np.uint8) for v in (0, 100)]
    save_stack(tmp_path / "s", frames, z=[0.0, 10.0], z_unit="um", kind="z-sweep", name="b")
    src, drive = make_twin(tmp_path / "s", start_um=0.0, blend=True)
    drive.move_to(2.5)
    assert int(src.fresh_frame(after=drive.clock.now()).pixels[0, 0]) == 25


def test_drift_shifts_the_plane_seen(tmp_path):
    src, drive = make_twin(index_stack(tmp_path / "s", Z), start_um=20.0)
    src.drift_um = 10.0
    assert plane_of(src.fresh_frame(after=drive.clock.now())) == 3


def test_a_sequence_stack_is_refused(tmp_path):
    frames = [np.zeros((4, 4), np.uint8)] * 3
    save_stack(tmp_path / "s", frames, kind="sequence", name="seq")
    with pytest.raises(InputError, match="z-sweep"):
        TwinSource(tmp_path / "s", SimulatedDrive())


def test_closed_twin_refuses_to_read(tmp_path):
    src, _ = make_twin(index_stack(tmp_path / "s", Z))
    src.close()
    with pytest.raises(Exception, match="closed"):
        src.read()
