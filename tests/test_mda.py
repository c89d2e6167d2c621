"""focuscam as the autofocus of a pymmcore-plus MDA: a useq MDASequence with an autofocus plan
run on a real MMCore (UniMMCore with the twin devices) through FocuscamEngine."""

from __future__ import annotations

import numpy as np
import pytest
from mm_twin import TARGET, twin_core

from focuscam.errors import InputError
from focuscam.stacks import load_stack

useq = pytest.importorskip("useq")
pytest.importorskip("pymmcore_plus.experimental.unicore")


@pytest.fixture
def core():
    c = twin_core(TARGET)
    yield c
    c.unloadAllDevices()


def _run(core, engine, seq):
    frames = []
    core.mda.set_engine(engine)
    core.mda.events.frameReady.connect(lambda img, event, meta: frames.append((img, event, meta)))
    core.mda.run(seq)
    return frames


def test_an_mda_with_three_positions_is_focused_by_focuscam_at_each(core):
    from focuscam.mda import FocuscamEngine

    truth = load_stack(TARGET).truth
    starts = [-15.0, 0.0, 12.0]
    seq = useq.MDASequence(
        stage_positions=[useq.Position(z=z) for z in starts],
        time_plan={"interval": 0, "loops": 2},
        autofocus_plan=useq.AxesBasedAF(autofocus_device_name="Z", axes=("p",)),
        axis_order="ptcz",
    )
    # the twin's planes are 1.5 um apart: finer steps only see blends of two planes
    engine = FocuscamEngine(core, limits=(-18.0, 18.0), backlash_um=3.0, search_um=20.0, resolution_um=1.5)
    frames = _run(core, engine, seq)
    assert len(frames) == 6  # 3 positions x 2 time points; autofocus actions give no frame
    assert sorted(engine.results) == [0, 1, 2]
    for img, event, meta in frames:
        focus = meta["focuscam"]
        assert focus["state"] == "focused"
        assert abs(focus["z_um"] - truth["z"]) <= truth["tolerance"], focus
        # the frame was taken at focuscam's z: the position's nominal z plus the correction
        p = event.index["p"]
        assert focus["correction_um"] == pytest.approx(focus["z_um"] - starts[p])
        assert meta["position"]["z"] == pytest.approx(focus["z_um"], abs=1e-6)
        assert img.shape == (240, 320, 3)


def test_without_an_autofocus_plan_nothing_is_corrected(core):
    from focuscam.mda import FocuscamEngine

    seq = useq.MDASequence(stage_positions=[useq.Position(z=5.0)])
    frames = _run(core, FocuscamEngine(core, limits=(-18.0, 18.0)), seq)
    assert len(frames) == 1
    assert "focuscam" not in frames[0][2]
    assert frames[0][2]["position"]["z"] == pytest.approx(5.0)


def test_the_engine_refuses_missing_limits_before_any_acquisition(core):
    from focuscam.mda import FocuscamEngine

    with pytest.raises(InputError):
        FocuscamEngine(core, limits=None)


def test_a_position_that_does_not_focus_keeps_its_z_and_says_failed(tmp_path):
    from focuscam.mda import FocuscamEngine
    from focuscam.stacks import save_stack

    rng = np.random.default_rng(3)
    flat = [rng.integers(100, 104, size=(32, 40), dtype=np.uint8) for _ in range(9)]  # no focus
    stack = save_stack(tmp_path / "flat", flat, z=np.linspace(-8, 8, 9), z_unit="um")
    core = twin_core(stack)
    try:
        seq = useq.MDASequence(
            stage_positions=[useq.Position(z=2.0)],
            autofocus_plan=useq.AxesBasedAF(autofocus_device_name="Z", axes=("p",)),
        )
        frames = _run(core, FocuscamEngine(core, limits=(-8.0, 8.0)), seq)
        assert len(frames) == 1
        meta = frames[0][2]
        assert meta["focuscam"]["state"] == "failed" and meta["focuscam"]["correction_um"] == 0.0
        assert meta["position"]["z"] == pytest.approx(2.0)  # acquired where the plan said
    finally:
        core.unloadAllDevices()
