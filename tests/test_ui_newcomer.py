"""Issue 16, the live window: every message fits, the legend shows what works, one recording per
run, a layout that scales, honest empty panels, ticks, a grid legend, one lock label, and blur
verdicts that name their frame (pure parts; the window itself is in test_ui_window.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focuscam.types import ROI
from focuscam.ui.actions import EngineActions
from focuscam.ui.live import NO_DRIVE_HINT, run_record_path
from focuscam.ui.render import (
    PLOT_BG,
    ROI_COLOUR,
    Layout,
    ViewModel,
    draw_grid,
    fit_text,
    fit_viewport,
    key_help,
    render_focus_curve,
    render_time_plot,
    render_view,
    score_colour,
    status_lines,
    time_plot_ticks,
)
from focuscam.ui.state import UiState

FONT = cv2.FONT_HERSHEY_SIMPLEX


def width_of(text: str, scale: float = 0.45) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


# --------------------------------------------------------------------------- item 4: text fits
SNAPSHOT = "snapshot saved: /tmp/pytest-of-dev/pytest-17/test_window0/out/snapshot-20260101-120000-917.png"
NOT_EMPTY = "autofocus: /tmp/afrec already exists and is not empty: choose a new folder for the recording"


@pytest.mark.parametrize("message", [SNAPSHOT, NOT_EMPTY])
def test_fit_text_keeps_the_file_name_and_the_reason(message):
    lines = fit_text(message, 380, max_lines=3)
    assert 1 < len(lines) <= 3
    assert all(width_of(line) <= 380 for line in lines)
    joined = " ".join(lines)
    if message is SNAPSHOT:
        assert "snapshot-20260101-120000-917.png" in joined.replace(" ", "") or "917.png" in joined
    else:
        assert "not empty" in joined and "choose a new folder" in joined


def test_fit_text_shortens_paths_when_wrapping_is_not_enough():
    path = "/" + "/".join(f"folder{i:02d}" for i in range(30)) + "/snapshot-917.png"
    lines = fit_text(f"snapshot saved: {path}", 300, max_lines=2)
    assert len(lines) <= 2 and all(width_of(line) <= 300 for line in lines)
    assert "snapshot-917.png" in "".join(lines)  # the file name survives, leading folders go
    assert "..." in "".join(lines)


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300), st.integers(40, 600))
def test_fit_text_never_exceeds_its_box(text, width):
    lines = fit_text(text, width, max_lines=3)
    assert 1 <= len(lines) <= 3
    assert all(width_of(line) <= width for line in lines)


def test_the_window_message_is_wrapped_not_cut():
    # the message is drawn fitted into the side panel: more of it shows than one line could hold
    layout = Layout()
    view = ViewModel(pixels=np.zeros((40, 60), np.uint8), message=NOT_EMPTY)
    canvas, _ = render_view(view, layout)
    side = canvas[:, layout.frame_w :]
    rows = np.nonzero(np.all(side == np.array(ROI_COLOUR, np.uint8), axis=2).any(axis=1))[0]
    assert rows.size and rows.max() - rows.min() > 20  # more than one line of message text
    assert width_of(NOT_EMPTY) > layout.side_w  # (it could never fit on one line)


# --------------------------------------------------------------------------- item 5: legend
def test_legend_shows_only_the_keys_that_work():
    monitor = EngineActions(measures=["lapv"], start_recording=lambda: None, latest_frame=lambda: None)
    assert monitor.keys() == "mgrsq"
    legend = key_help(monitor.keys())
    assert "autofocus" not in legend and "lock" not in legend and "jog" not in legend
    assert "m measure" in legend and "q quit" in legend
    with_drive = EngineActions(measures=["lapv"], drive=object(), autofocus=lambda: None, lock=lambda: None)
    assert {"a", "l", "+"} <= set(with_drive.keys())


def test_monitor_keys_without_a_drive_say_where_to_go():
    actions = EngineActions(measures=["lapv"], no_drive_hint=NO_DRIVE_HINT)
    for answer in (actions.autofocus(), actions.toggle_lock(), actions.jog(+1)):
        assert answer == NO_DRIVE_HINT and "focuscam autofocus" in answer


def test_view_carries_the_legend_of_its_actions():
    state = UiState(EngineActions(measures=["lapv"]))
    assert state.view().keys == "mgq"


# --------------------------------------------------------------------------- item 6: runs
def test_each_run_records_into_its_own_subfolder(tmp_path):
    base = tmp_path / "afrec"
    n1, first = run_record_path(base)
    first.mkdir(parents=True)
    n2, second = run_record_path(base, n1)
    assert (n1, first) == (1, base / "run-001") and (n2, second) == (2, base / "run-002")
    (base / "run-003").mkdir()  # an earlier session's run is skipped, not overwritten
    assert run_record_path(base, n2) == (4, base / "run-004")
    assert run_record_path(tmp_path / "af.ome.tif") == (1, tmp_path / "af-run-001.ome.tif")


# --------------------------------------------------------------------------- item 7: layout
def test_default_layout_fits_a_1280x720_screen():
    w, h = Layout().size
    assert w <= 1280 and h <= 720 - 40  # room for a title bar


@pytest.mark.parametrize("size", [(640, 630), (1280, 720), (1920, 1080), (900, 1000), (3000, 700)])
def test_layout_fits_the_window_size(size):
    layout = Layout.fit(*size)
    assert layout.size == size
    canvas, vp = render_view(ViewModel(pixels=np.zeros((480, 640), np.uint8)), layout)
    assert (canvas.shape[1], canvas.shape[0]) == size
    assert vp.ox + vp.size[0] <= layout.frame_w and vp.oy + vp.size[1] <= layout.frame_h


def test_layout_below_its_minimum_is_laid_out_at_the_minimum():
    assert Layout.fit(100, 100).size == Layout.MIN_SIZE


def test_empty_focus_curve_draws_no_dummy_axes_and_says_why():
    note = "no z: the monitor moves no focus"
    img = render_focus_curve([], [], (400, 240), empty_note=note)
    # no axes: nothing but the background and the (light) text
    not_bg = ~np.all(img == np.array(PLOT_BG, np.uint8), axis=2)
    assert not_bg.any()  # the note
    assert not not_bg[120:, :].any()  # no axes, no dummy 0..1 ticks
    full = render_focus_curve([0.0, 1.0, 2.0], [1.0, 2.0, 1.0], (400, 240))
    assert (~np.all(full == full[0, 0], axis=2))[150:, :].any()  # a real curve has its axes there


def test_time_plot_has_tick_labels():
    assert time_plot_ticks(2.0, 4.0) == [2.0, 3.0, 4.0]
    with pytest.raises(Exception, match="tick range"):
        time_plot_ticks(1.0, 1.0)
    img = render_time_plot([0.0, 1.0], [2.0, 4.0], (400, 200))
    left_margin = img[30:170, :50]
    assert (left_margin > 150).any()  # score tick labels left of the plot box
    bottom = img[185:, 60:390]
    assert (bottom > 150).any()  # time tick labels under it


def test_score_trace_restarts_after_a_measure_change():
    state = UiState(EngineActions(measures=["lapv", "teng"]))
    state.push_sample({"t": 0.0, "score": 1000.0, "measure": "lapv"})
    state.push_sample({"t": 1.0, "score": 1200.0, "measure": "lapv"})
    state.push_sample({"t": 2.0, "score": 3.0, "measure": "teng"})
    view = state.view()
    assert view.scores == [3.0] and view.t == [2.0]


def test_grid_tint_has_values_and_a_legend():
    canvas = np.zeros((300, 400, 3), np.uint8)
    vp = fit_viewport(400, 300, 400, 300)
    fmap = np.array([[1.0, 2.0], [3.0, 4.0]])
    lo, hi = draw_grid(canvas, fmap, ROI(0, 0, 400, 300), vp)
    assert (lo, hi) == (1.0, 4.0)
    layout = Layout()
    frame = np.full((300, 400), 60, np.uint8)
    with_grid, _ = render_view(ViewModel(pixels=frame, show_grid=True, focus_map=fmap), layout)
    without, _ = render_view(ViewModel(pixels=frame, show_grid=False, focus_map=fmap), layout)
    strip = slice(layout.frame_h - 80, layout.frame_h), slice(0, layout.frame_w)
    for v in (0.0, 1.0):  # the legend's colour bar runs from blurry to sharp
        colour = np.array(score_colour(v), np.uint8)
        assert np.all(with_grid[strip] == colour, axis=2).any()
        assert not np.all(without[strip] == colour, axis=2).any()


@pytest.mark.parametrize(
    ("af_state", "locked"), [("locked", True), ("lock-paused", True), ("focused", True), ("unlocked", False)]
)
def test_lock_state_is_shown_once(af_state, locked):
    last = status_lines(ViewModel(af_state=af_state, locked=locked))[-1]
    assert last.lower().count("lock") <= 1 and "LOCKED" not in last
    assert "locked locked" not in last.lower()
    if locked:
        assert "lock:" in last


# --------------------------------------------------------------------------- item 8: verdict
def test_verdict_names_the_frame_it_belongs_to():
    state = UiState(EngineActions(measures=["lapv"]))
    state.push_sample(
        {
            "t": 1.0,
            "seq": 9,
            "score": 30.65,
            "measure": "lapv",
            "blur": {"is_blurred": True, "per": 0.01},
            "blur_seq": 2,
        }
    )
    text = "\n".join(status_lines(state.view()))
    assert "frame 9" in text and "blurred (per 0.010) (of frame 2)" in text


def test_terminal_status_line_names_the_verdicts_frame():
    import io

    from focuscam.cli.monitor import _StatusLine
    from focuscam.monitor import MonitorSample

    out = io.StringIO()
    sample = MonitorSample(
        t=1.0,
        seq=9,
        score=30.65,
        measure="lapv",
        blur={"is_blurred": True, "per": 0.01},
        blur_seq=2,
        focus_map=None,
        measure_ms=1.0,
        fps=20.0,
        dropped=0,
    )
    _StatusLine(out, interval=0.0)(sample)
    text = out.getvalue()
    assert "frame 9" in text and "(frame 2: blurred)" in text
    assert not text.rstrip().endswith("frame 9  blurred")  # the old line read as frame 9's verdict


def test_terminal_status_line_draws_the_last_sample_the_throttle_held_back():
    import io

    from focuscam.cli.monitor import _StatusLine
    from focuscam.monitor import MonitorSample

    out = io.StringIO()
    line = _StatusLine(out, interval=3600.0)

    def sample(seq, blur_seq, late=False):
        blur = {"is_blurred": False, "per": 0.2}
        return MonitorSample(1.0, seq, 5.0, "lapv", blur, blur_seq, None, 1.0, 20.0, 0, late=late)

    line(sample(0, 0))
    line(sample(1, 0))  # throttled
    line.close()
    assert out.getvalue().rstrip().endswith("frame 1  (frame 0: sharp)")
    out2 = io.StringIO()
    line2 = _StatusLine(out2, interval=3600.0)
    line2(sample(0, 0))
    line2(sample(0, 0, late=True))  # a late verdict is drawn at once
    assert out2.getvalue().count("frame 0") == 4
