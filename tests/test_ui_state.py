"""Keys and mouse through the UI's own handlers, checked on the engine adapter's real parts:
a simulated drive, a StackWriter, PNG snapshots, the measure registry."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from focuscam.drives.sim import SimulatedDrive
from focuscam.errors import InputError
from focuscam.measures import MEASURES
from focuscam.stacks import StackWriter, load_stack
from focuscam.types import ROI, Frame
from focuscam.ui import state as ui_state
from focuscam.ui.actions import EngineActions
from focuscam.ui.render import fit_viewport, render_view
from focuscam.ui.state import UiActions, UiState


class Engine:
    """A tiny stand-in for the monitor's settable attributes (what the adapter's callbacks set)."""

    def __init__(self):
        self.measure = "lapv"
        self.roi = None
        self.grid = None
        self.stopped = False
        self.frame = None


@pytest.fixture
def rig(tmp_path):
    drive = SimulatedDrive(limits=(-100.0, 100.0))
    engine = Engine()
    frame = Frame(np.arange(300 * 400, dtype=np.uint16).reshape(300, 400), t=1.0, seq=7, z=0.0)
    engine.frame = frame
    recordings = []

    def start_recording():
        w = StackWriter(tmp_path / f"rec{len(recordings)}", name="live", flush_every=1)
        recordings.append(w)
        return w

    actions = EngineActions(
        drive=drive,
        jog_um=25.0,
        measure="lapv",
        on_measure=lambda name: setattr(engine, "measure", name),
        on_roi=lambda roi: setattr(engine, "roi", roi),
        on_grid=lambda on: setattr(engine, "grid", (3, 3) if on else None),
        start_recording=start_recording,
        latest_frame=lambda: engine.frame,
        snapshot_dir=tmp_path / "snaps",
        on_quit=lambda: setattr(engine, "stopped", True),
    )
    state = UiState(actions)
    actions.bind(state)
    state.push_frame(frame)
    # the window sets the viewport when it renders; a 400x300 frame in a 960x696 box
    state.viewport = fit_viewport(400, 300, 960, 696)
    return state, actions, drive, engine, recordings


def key(state, ch):
    return state.on_key(27 if ch == "esc" else ord(ch))


def test_event_codes_are_opencvs():
    assert ui_state.EVENT_MOUSEMOVE == cv2.EVENT_MOUSEMOVE
    assert ui_state.EVENT_LBUTTONDOWN == cv2.EVENT_LBUTTONDOWN
    assert ui_state.EVENT_LBUTTONUP == cv2.EVENT_LBUTTONUP
    assert ui_state.EVENT_RBUTTONDOWN == cv2.EVENT_RBUTTONDOWN


def test_engine_actions_is_a_ui_actions():
    assert isinstance(EngineActions(measures=["lapv"]), UiActions)


def test_m_cycles_through_every_measure_and_wraps(rig):
    state, _, _, engine, _ = rig
    names = list(MEASURES)
    seen = []
    for _ in names:
        assert key(state, "m")
        seen.append(engine.measure)
        assert state.view().message == f"measure: {engine.measure}"
    assert seen[-1] == "lapv"  # wrapped back to the start
    assert sorted(seen) == sorted(names)
    assert seen[0] == names[(names.index("lapv") + 1) % len(names)]


def test_g_toggles_the_grid_in_the_view_and_the_engine(rig):
    state, _, _, engine, _ = rig
    assert key(state, "g") and state.show_grid and engine.grid == (3, 3)
    assert state.view().show_grid
    assert key(state, "G") and not state.show_grid and engine.grid is None


def frame_point(vp, fx, fy):
    """Display coordinates of a frame point, computed from the viewport's fields."""
    return round(vp.ox + fx * vp.scale), round(vp.oy + fy * vp.scale)


def drag(state, a, b, steps=4):
    state.on_mouse(cv2.EVENT_LBUTTONDOWN, *a, 0)
    for i in range(1, steps + 1):
        x = a[0] + (b[0] - a[0]) * i // steps
        y = a[1] + (b[1] - a[1]) * i // steps
        state.on_mouse(cv2.EVENT_MOUSEMOVE, x, y, cv2.EVENT_FLAG_LBUTTON)
    state.on_mouse(cv2.EVENT_LBUTTONUP, *b, 0)


def test_drag_sets_the_roi_in_frame_coordinates(rig):
    state, actions, _, engine, _ = rig
    vp = state.viewport
    assert vp.scale != 1 and vp.ox > 0  # a real mapping, not the identity
    drag(state, frame_point(vp, 100, 50), frame_point(vp, 300, 200))
    roi = engine.roi
    assert roi == actions.roi == state.roi
    # within one frame pixel of the rectangle the user meant
    assert abs(roi.x - 100) <= 1 and abs(roi.y - 50) <= 1
    assert abs(roi.x + roi.w - 300) <= 1 and abs(roi.y + roi.h - 200) <= 1
    # dragging up-left draws the same rectangle
    drag(state, frame_point(vp, 300, 200), frame_point(vp, 100, 50))
    assert abs(engine.roi.x - 100) <= 1 and abs(engine.roi.w - 200) <= 2


def test_drag_preview_is_drawn_but_not_applied_until_release(rig):
    state, _, _, engine, _ = rig
    vp = state.viewport
    a, b = frame_point(vp, 10, 10), frame_point(vp, 110, 60)
    state.on_mouse(cv2.EVENT_LBUTTONDOWN, *a, 0)
    state.on_mouse(cv2.EVENT_MOUSEMOVE, *b, cv2.EVENT_FLAG_LBUTTON)
    view = state.view()
    assert view.drag_roi is not None and engine.roi is None
    state.on_mouse(cv2.EVENT_LBUTTONUP, *b, 0)
    assert state.view().drag_roi is None and engine.roi is not None


def test_drag_inside_the_roi_moves_it_and_stops_at_the_frame_edge(rig):
    state, _, _, engine, _ = rig
    vp = state.viewport
    drag(state, frame_point(vp, 100, 100), frame_point(vp, 200, 160))
    first = engine.roi
    # move it 40 frame pixels right and 20 down by dragging from its inside
    start = frame_point(vp, first.x + 10, first.y + 10)
    drag(state, start, (start[0] + round(40 * vp.scale), start[1] + round(20 * vp.scale)))
    moved = engine.roi
    assert (moved.w, moved.h) == (first.w, first.h)
    assert abs(moved.x - (first.x + 40)) <= 1 and abs(moved.y - (first.y + 20)) <= 1
    # a drag far beyond the right edge leaves the ROI flush with the edge, size kept
    start = frame_point(vp, moved.x + 5, moved.y + 5)
    drag(state, start, (start[0] + 5000, start[1]))
    assert engine.roi.x + engine.roi.w == 400 and engine.roi.w == first.w


def test_drag_past_the_frame_is_cut_at_the_frame(rig):
    state, _, _, engine, _ = rig
    vp = state.viewport
    drag(state, frame_point(vp, 350, 250), (vp.ox + vp.size[0] + 200, vp.oy + vp.size[1] + 200))
    assert engine.roi.x + engine.roi.w == 400 and engine.roi.y + engine.roi.h == 300


def test_click_is_not_a_roi_and_right_click_resets(rig):
    state, _, _, engine, _ = rig
    vp = state.viewport
    drag(state, frame_point(vp, 100, 100), frame_point(vp, 200, 200))
    before = engine.roi
    p = frame_point(vp, 50, 50)
    drag(state, p, (p[0] + 1, p[1] + 1))  # a click with a tiny jitter
    assert engine.roi == before
    state.on_mouse(cv2.EVENT_LBUTTONDOWN, 2, 2, 0)  # outside the frame (left margin): ignored
    state.on_mouse(cv2.EVENT_LBUTTONUP, 300, 300, 0)
    assert engine.roi == before
    state.on_mouse(cv2.EVENT_RBUTTONDOWN, *p, 0)
    assert engine.roi is None and state.roi is None
    assert state.view().message == "ROI: whole frame"


def test_jog_moves_the_drive_and_limits_are_shown_not_raised(rig):
    state, actions, drive, _, _ = rig
    assert key(state, "+")
    assert actions.wait(10)
    assert drive.position == pytest.approx(25.0)
    assert key(state, "=")
    actions.wait(10)
    assert key(state, "-")
    actions.wait(10)
    assert drive.position == pytest.approx(25.0)
    assert state.view().message == "z = 25.00 um"
    for _ in range(3):
        key(state, "+")
        actions.wait(10)
    assert drive.position == pytest.approx(100.0)
    key(state, "+")  # would leave the limits: refused before anything moves, shown in the window
    actions.wait(10)
    assert drive.position == pytest.approx(100.0)
    msg = state.view().message
    assert msg.startswith("jog:") and "soft limits" in msg


def test_r_records_frames_to_a_valid_stack(rig):
    state, actions, _, _, recordings = rig
    assert key(state, "r")
    assert state.view().recording
    rng = np.random.default_rng(0)
    frames = [Frame(rng.integers(0, 65535, (30, 40), dtype=np.uint16), t=float(i), seq=i) for i in range(5)]
    for f in frames:
        actions.record(f)
    assert key(state, "r")
    assert not state.view().recording
    assert "recorded 5 frames" in state.view().message
    stack = load_stack(recordings[0].path)
    assert len(stack) == 5
    assert list(stack.t) == [f.t for f in frames]
    for i, f in enumerate(frames):
        assert np.array_equal(stack.image(i), f.pixels)


def test_s_saves_a_lossless_snapshot(rig):
    state, actions, _, engine, _ = rig
    assert key(state, "s")
    assert len(actions.snapshots) == 1
    path = actions.snapshots[0]
    assert str(path) in state.view().message
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back, engine.frame.pixels)
    key(state, "s")
    assert len(set(actions.snapshots)) == 2  # never overwrites


@pytest.mark.parametrize("ch", ["q", "esc", "Q"])
def test_quit_stops_the_drive_closes_files_and_ends_the_window(rig, ch):
    state, actions, drive, engine, recordings = rig
    key(state, "r")
    actions.record(engine.frame)
    assert key(state, ch)
    assert state.quit_requested
    assert drive.closed
    assert engine.stopped
    assert recordings[0].closed and actions.writer is None
    assert (recordings[0].path / "stack.json").is_file()


def test_quit_during_a_jog_stops_the_move(rig):
    state, actions, drive, _, _ = rig
    slow = SimulatedDrive(limits=(-1000.0, 1000.0), speed_um_s=50.0, clock="wall")
    actions.drive = slow
    actions.jog_um = 500.0  # 10 s at 50 um/s
    key(state, "+")
    assert actions.busy
    key(state, "q")
    assert not actions.busy and slow.closed
    assert state.view().message.startswith("jog:")  # the Aborted move is reported
    drive.close()


def test_keys_without_engine_parts_say_what_is_missing():
    actions = EngineActions(measures=["lapv"])
    state = UiState(actions)
    for ch, words in [
        ("a", "--drive"),
        ("l", "--drive"),
        ("+", "--drive"),
        ("r", "--record"),
        ("s", "snapshot"),
    ]:
        assert key(state, ch)
        assert words in state.view().message


def test_unknown_keys_and_no_key_are_ignored(rig):
    state, *_ = rig
    assert not state.on_key(-1)
    assert not key(state, "x")
    assert not state.on_key(0x1000013)  # Qt's arrow-up, a special key
    assert not state.quit_requested


def test_an_unexpected_engine_bug_is_not_hidden():
    class Broken(EngineActions):
        def next_measure(self):
            raise ZeroDivisionError("bug")

    state = UiState(Broken(measures=["lapv"]))
    with pytest.raises(ZeroDivisionError):
        key(state, "m")


def test_samples_and_autofocus_events_fill_the_view(rig):
    state, *_ = rig
    for i in range(5):
        state.push_sample(
            {
                "t": float(i),
                "seq": i,
                "score": 10.0 + i,
                "measure": "lapv",
                "blur": {"is_blurred": False, "per": 0.75},
                "focus_map": np.arange(9.0).reshape(3, 3),
                "measure_ms": 0.5,
                "fps": 30.0,
                "dropped": 2,
            }
        )
    state.on_autofocus_event("state", {"state": "searching"})
    for z, s in [(-10.0, 1.0), (0.0, 3.0), (10.0, 2.0)]:
        state.on_autofocus_event("move", {"target_um": z})
        state.on_autofocus_event("sample", {"z_um": z, "score": s, "t": 0.0, "seq": 0})
    view = state.view()
    assert view.scores == [10.0, 11.0, 12.0, 13.0, 14.0] and view.t == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert view.verdict == "sharp (per 0.750)" and view.dropped == 2 and view.score == 14.0
    assert view.curve_z == [-10.0, 0.0, 10.0] and view.peak_z is None and view.z_um == 10.0
    result = type("R", (), {"z": 1.5, "state": "focused"})()
    state.on_autofocus_event("state", {"state": "focused", "z_um": 1.5})
    state.on_autofocus_event("result", {"result": result})
    view = state.view()
    assert view.peak_z == 1.5 and view.peak_state == "focused" and view.af_state == "focused"
    canvas, vp = render_view(view)
    assert vp is not None and canvas.shape[2] == 3
    # a new run clears the curve
    state.on_autofocus_event("state", {"state": "searching"})
    assert state.view().curve_z == [] and state.view().peak_z is None


def test_push_from_an_engine_thread_while_the_window_reads(rig):
    state, *_ = rig
    stop = threading.Event()

    def feed():
        i = 0
        while not stop.is_set():
            state.push_sample({"t": float(i), "score": float(i), "measure": "lapv"})
            state.curve_add(float(i), float(i))
            i += 1

    th = threading.Thread(target=feed)
    th.start()
    try:
        for _ in range(50):
            view = state.view()
            assert len(view.t) == len(view.scores)
            assert len(view.curve_z) == len(view.curve_scores)
    finally:
        stop.set()
        th.join()


def test_autofocus_key_runs_a_closed_loop_on_the_twin(tmp_path):
    twin = pytest.importorskip("focuscam.twin")
    af = pytest.importorskip("focuscam.autofocus")
    from conftest import shared_stack

    source, drive = twin.make_twin(shared_stack("fpd_webcam_rep1"))
    state = UiState(None)  # type: ignore[arg-type]
    controller = af.Autofocus(source, drive, on_event=state.on_autofocus_event)
    actions = EngineActions(drive=drive, measures=list(MEASURES), autofocus=controller.run)
    state.actions = actions
    actions.bind(state)
    assert key(state, "a")
    assert state.view().message == "autofocus started"
    assert actions.wait(120)
    view = state.view()
    assert len(view.curve_z) >= 3  # the curve grew sample by sample
    assert view.peak_z is not None and view.peak_state in ("focused", "failed")
    assert view.message.startswith(f"autofocus {view.peak_state}")
    key(state, "q")
    assert drive.closed
    source.close()


def test_bad_adapter_settings_are_refused():
    with pytest.raises(InputError, match="jog_um"):
        EngineActions(measures=["lapv"], jog_um=0)
    with pytest.raises(InputError, match="measure"):
        EngineActions(measures=["lapv"], measure="nope")


def test_roi_of_the_initial_state_is_shown(rig):
    state, *_ = rig
    state.roi = ROI(1, 2, 3, 4)
    assert state.view().roi == ROI(1, 2, 3, 4)


def test_autofocus_scores_show_in_the_status_only_without_a_monitor():
    actions = EngineActions(measures=["lapv", "teng"], measure="teng")
    state = UiState(actions)
    state.on_autofocus_event("sample", {"z_um": 1.0, "score": 4.0, "t": 10.0, "seq": 1})
    state.on_autofocus_event("sample", {"z_um": 2.0, "score": 6.0, "t": 11.0, "seq": 2})
    view = state.view()
    assert view.score == 6.0 and view.measure == "teng" and view.scores == [4.0, 6.0]
    monitored = UiState(actions)
    monitored.push_sample({"t": 0.0, "score": 99.0, "measure": "lapv"})
    monitored.on_autofocus_event("sample", {"z_um": 1.0, "score": 4.0, "t": 10.0, "seq": 1})
    view = monitored.view()
    assert view.score == 99.0 and view.scores == [99.0] and view.curve_scores == [4.0]
