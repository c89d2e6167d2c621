"""The live window really created under Xvfb, events fed through the UI's handlers, a rendered
frame saved and checked; and the headless fallback (no display: one message, no crash)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from focuscam.types import ROI
from focuscam.ui.render import ROI_COLOUR, Layout
from focuscam.ui.window import display_available

REQUIRE = os.environ.get("FOCUSCAM_REQUIRE_TOOLCHAIN") == "1"


def save_screenshot(png, name: str) -> None:
    """Keep a window test's rendered frame as a README screenshot when asked to.

    ``FOCUSCAM_SCREENSHOTS=recordings/screenshots`` (as for the browser test) writes it there;
    a plain test run writes nothing into the checkout.
    """
    folder = os.environ.get("FOCUSCAM_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, Path(folder) / name)


@pytest.fixture
def xvfb(monkeypatch):
    """Start Xvfb on a display of its own, set DISPLAY, kill it after.

    No display number is guessed: ``-displayfd`` makes the server take the first free one (its
    lock file decides between parallel users) and write it to a pipe once it accepts
    connections, and the fixture waits for that line (an event, not a time). ``-noreset``: the
    server must not reset when its last client disconnects (the display probe's child closes
    its connection just before the window's child connects; a reset in between refused it).
    """
    import select

    exe = shutil.which("Xvfb")
    if exe is None:
        if REQUIRE:
            pytest.fail("Xvfb is missing but FOCUSCAM_REQUIRE_TOOLCHAIN=1: apt-get install xvfb xauth")
        pytest.skip("Xvfb not found: apt-get install xvfb (CI installs it via .ci/run)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)  # the server holds the only write end: EOF means it exited
    try:
        number = b""
        while not number.endswith(b"\n"):
            # the line, or EOF when Xvfb dies; the ceiling only turns a hung server into a failure
            ready, _, _ = select.select([read_fd], [], [], 600)
            if not ready:
                pytest.fail("Xvfb neither reported its display nor exited in 600 s")
            chunk = os.read(read_fd, 16)
            if not chunk:
                pytest.fail(f"Xvfb exited (code {proc.wait(10)}) before reporting its display")
            number += chunk
        display = f":{int(number.strip())}"
        monkeypatch.setenv("DISPLAY", display)
        monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
        yield display
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.display
def test_display_is_found_under_xvfb(xvfb):
    ok, reason = display_available()
    assert ok, reason


# The window runs in a child process: Qt keeps its X connection for the life of the process and
# aborts it when the X server goes away, so the pytest process itself never opens a window.
WINDOW_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import cv2
    import numpy as np
    from focuscam.drives.sim import SimulatedDrive
    from focuscam.types import Frame
    from focuscam.ui.actions import EngineActions
    from focuscam.ui.render import Layout
    from focuscam.ui.state import UiState
    from focuscam.ui.window import run_window

    out = Path(sys.argv[1])
    drive = SimulatedDrive(limits=(-100.0, 100.0))
    chosen = {"measure": "lapv", "roi": None}
    rng = np.random.default_rng(5)
    frame = Frame(rng.integers(0, 4095, (240, 320), dtype=np.uint16), t=0.0, seq=0, z=0.0)
    actions = EngineActions(
        drive=drive, jog_um=10.0, measures=["lapv", "teng", "wavs"], measure="lapv",
        on_measure=lambda name: chosen.__setitem__("measure", name),
        on_roi=lambda roi: chosen.__setitem__("roi", None if roi is None else list(roi)),
        latest_frame=lambda: frame, snapshot_dir=out,
    )
    state = UiState(actions)
    actions.bind(state)
    state.push_frame(frame)
    layout = Layout()
    title = "focuscam test"
    seen = {"renders": 0}

    def script(canvas):
        n = seen["renders"]
        seen["renders"] += 1
        if n == 1:  # after one waitKey the window is mapped and sized
            seen["visible"] = cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE)
            seen["rect"] = list(cv2.getWindowImageRect(title))
            vp = state.viewport
            a = (round(vp.ox + 80 * vp.scale), round(vp.oy + 60 * vp.scale))
            b = (round(vp.ox + 240 * vp.scale), round(vp.oy + 180 * vp.scale))
            state.on_mouse(cv2.EVENT_LBUTTONDOWN, *a, 0)
            state.on_mouse(cv2.EVENT_MOUSEMOVE, *b, cv2.EVENT_FLAG_LBUTTON)
            state.on_mouse(cv2.EVENT_LBUTTONUP, *b, 0)
            state.on_key(ord("m"))
            state.on_key(ord("+"))
            actions.wait(10)
            seen["z_after_jog"] = drive.position
            state.push_sample({"t": 0.0, "score": 5.0, "measure": chosen["measure"], "fps": 25.0})
            state.push_sample({"t": 1.0, "score": 7.0, "measure": chosen["measure"], "fps": 25.0})
        elif n == 3:
            cv2.imwrite(str(out / "window.png"), canvas)
            vp = state.viewport
            seen["viewport"] = [vp.scale, vp.ox, vp.oy, vp.frame_w, vp.frame_h]
            state.on_key(ord("q"))

    seen["shown"] = run_window(state, title=title, layout=layout, on_render=script, poll_ms=5)
    seen.update(
        layout=list(layout.size), measure=chosen["measure"], roi=chosen["roi"],
        drive_closed=drive.closed, quit=state.quit_requested,
    )
    (out / "result.json").write_text(json.dumps(seen))
    """
)


@pytest.mark.display
def test_window_shows_the_view_and_routes_events_to_the_engine(xvfb, tmp_path):
    import json

    from focuscam.ui.render import Viewport

    proc = subprocess.run(
        [sys.executable, "-c", WINDOW_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads((tmp_path / "result.json").read_text())
    assert seen["shown"] is True
    # the window really existed, visible, showing the whole rendered canvas
    assert seen["visible"] >= 1
    assert seen["rect"][2:] == seen["layout"]
    # engine state changed through the handlers
    assert seen["measure"] == "teng"
    assert seen["roi"] == [80, 60, 160, 120]
    assert seen["z_after_jog"] == pytest.approx(10.0)
    assert seen["drive_closed"] and seen["quit"]  # q: drive stopped and closed
    # the saved rendered frame shows the ROI where it was drawn
    img = cv2.imread(str(tmp_path / "window.png"))
    assert (img.shape[1], img.shape[0]) == tuple(seen["layout"])
    scale, ox, oy, fw, fh = seen["viewport"]
    vp = Viewport(scale, ox, oy, fw, fh)
    p0, p1 = vp.roi_corners(ROI(80, 60, 160, 120))
    colour = np.array(ROI_COLOUR, np.uint8)
    assert np.all(img[p0[1], p0[0] : p1[0] + 1] == colour)  # top edge
    assert np.all(img[p0[1] : p1[1] + 1, p0[0]] == colour)  # left edge
    assert np.all(img[p1[1], p0[0] : p1[0] + 1] == colour)  # bottom edge
    inner = img[p0[1] + 5 : p1[1] - 5, p0[0] + 5 : p1[0] - 5]
    assert not np.all(inner == colour, axis=2).any()  # the frame shows inside, not the overlay
    # the side panel: the score line of the two samples
    from focuscam.ui.render import PLOT_LINE

    side = img[:, seen["layout"][0] - Layout().side_w :]
    assert np.all(side == np.array(PLOT_LINE, np.uint8), axis=2).any()


STOP_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    from focuscam.ui.actions import EngineActions
    from focuscam.ui.state import UiState
    from focuscam.ui.window import run_window
    actions = EngineActions(measures=["lapv"])
    state = UiState(actions)
    state.push_frame(np.zeros((20, 30), np.uint8))
    calls = {"n": 0}
    def stop():
        calls["n"] += 1
        return calls["n"] > 3
    assert run_window(state, should_stop=stop, poll_ms=1)
    print("quitted" if actions.quitted else "stopped")
    """
)


@pytest.mark.display
def test_should_stop_ends_the_window_without_quitting(xvfb):
    proc = subprocess.run([sys.executable, "-c", STOP_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "stopped"  # the caller owns the shutdown


# --------------------------------------------------------------------------- no display
HEADLESS = textwrap.dedent(
    """
    import sys
    from focuscam.ui.actions import EngineActions
    from focuscam.ui.state import UiState
    from focuscam.ui.window import run_window
    shown = run_window(UiState(EngineActions(measures=["lapv"])))
    print("shown" if shown else "headless")
    """
)


def run_headless(env_update: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for k, v in env_update.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return subprocess.run(
        [sys.executable, "-c", HEADLESS], capture_output=True, text=True, timeout=120, env=env
    )


def test_no_display_falls_back_to_headless_with_one_message():
    proc = run_headless({"DISPLAY": None, "WAYLAND_DISPLAY": None})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "headless"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISPLAY is not set" in lines[0] and "headless" in lines[0]


def test_unreachable_display_falls_back_without_aborting(tmp_path):
    # a display number nobody serves: Qt would abort the process if the window were created
    number = next(n for n in range(4321, 4400) if not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    proc = run_headless({"DISPLAY": f":{number}", "WAYLAND_DISPLAY": None})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "headless"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"DISPLAY=:{number}" in lines[0] and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- focuscam monitor
def _monitor_args():
    from conftest import REPO

    return (
        "monitor",
        "--source",
        f"replay:{REPO / 'recordings' / 'target_color'}",
        "--frames",
        "12",
        "--json",
    )


@pytest.mark.display
def test_monitor_command_shows_the_window_and_ends_with_its_frames(xvfb, run_cli):
    proc = run_cli(*_monitor_args(), "--grid", "2x2")
    assert proc.returncode == 0, proc.stderr
    assert "headless" not in proc.stderr and "Traceback" not in proc.stderr
    lines = [json.loads(ln) for ln in proc.stdout.splitlines()]
    assert len(lines) == 12 and all("focus_map" in ln for ln in lines)


def test_monitor_command_without_display_runs_headless_with_one_message(run_cli, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    proc = run_cli(*_monitor_args())
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 12
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "running headless" in lines[0]


AUTOFOCUS_SCRIPT = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path
    import cv2
    from focuscam.autofocus import Autofocus
    from focuscam.twin import make_twin
    from focuscam.ui.live import autofocus_window

    out = Path(sys.argv[2])
    src, drive = make_twin(sys.argv[1])
    af = Autofocus(src, drive, resolution_um=src.spacing_um)
    canvases = []
    order = []
    previous = af.on_event
    def on_event(kind, data):
        order.append(kind)
        previous(kind, data)
    def on_render(canvas):
        if not canvases:  # the first frame drawn: is the source's frame there, no event yet?
            import focuscam.ui.live  # noqa: F401
            order.append("first-render")
            cv2.imwrite(str(out / "first.png"), canvas)
        canvases.append(canvas)
    def wrap(orig):
        def chained(kind, data):
            order.append(kind)
            orig(kind, data)
        return chained
    af.on_event = None
    import focuscam.ui.live as live
    real = live.run_window
    def run_window(state, **kw):
        af.on_event = wrap(af.on_event)  # the window's handler is in place: log events before it
        return real(state, **kw)
    live.run_window = run_window
    result = autofocus_window(af, argparse.Namespace(), close_when_done=True, on_render=on_render)
    cv2.imwrite(str(out / "last.png"), canvases[-1])
    json.dump({"state": result.state, "z": result.z, "samples": len(result.samples),
               "renders": len(canvases), "order": order[:3]}, sys.stdout)
    src.close(); drive.close()
    """
)


@pytest.mark.display
def test_autofocus_window_grows_the_curve_and_marks_the_peak(xvfb, tmp_path):
    from conftest import REPO

    from focuscam.plot import _CURVE, _PEAK_OK

    stack = REPO / "recordings" / "target_color"
    proc = subprocess.run(
        [sys.executable, "-c", AUTOFOCUS_SCRIPT, str(stack), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "focused" and out["samples"] >= 3
    img = cv2.imread(str(tmp_path / "last.png"))
    layout = Layout()
    curve_panel = img[layout.status_h + layout.plot_h :, layout.frame_w :]
    assert np.all(curve_panel == np.array(_CURVE, np.uint8), axis=2).sum() > 20  # the sampled curve
    peak = np.all(curve_panel == np.array(_PEAK_OK, np.uint8), axis=2)
    assert peak.sum(axis=0).max() > 50  # a vertical peak line, green: focused
    save_screenshot(tmp_path / "last.png", "autofocus.png")
    # the first frame shows at once: drawn before the run's first event, with the source's frame
    assert out["order"][0] == "first-render", out["order"]
    first = cv2.imread(str(tmp_path / "first.png"))
    frame_box = first[: layout.frame_h - 40, : layout.frame_w]
    assert (frame_box > 40).mean() > 0.2  # not a black "waiting for frames" box


# The window's own loop is wrapped so the script can feed events through the UI state's handlers
# (exactly what HighGUI's callbacks call) while the real Monitor runs.
MONITOR_KEYS_SCRIPT = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path
    import cv2
    import focuscam.ui.live as live
    from focuscam.monitor import Monitor
    from focuscam.sources import open_source

    out = Path(sys.argv[2])
    real_run_window = live.run_window
    seen = {}

    def scripted(state, **kw):
        count = {"n": 0}

        def on_render(canvas):
            count["n"] += 1
            vp = state.viewport
            if count["n"] == 3 and vp is not None:
                state.on_key(ord("m"))
                state.on_key(ord("g"))
                a = (round(vp.ox + 40 * vp.scale), round(vp.oy + 30 * vp.scale))
                b = (round(vp.ox + 280 * vp.scale), round(vp.oy + 210 * vp.scale))
                state.on_mouse(cv2.EVENT_LBUTTONDOWN, *a, 0)
                state.on_mouse(cv2.EVENT_MOUSEMOVE, *b, cv2.EVENT_FLAG_LBUTTON)
                state.on_mouse(cv2.EVENT_LBUTTONUP, *b, 0)
            elif count["n"] > 3 and state.view().focus_map is not None and "png" not in seen:
                # the canvas handed in was drawn from the view before this call: save the one
                # drawn after a focus map was already there, not the first one that has it
                count["map"] = count.get("map", 0) + 1
                if count["map"] < 2:
                    return
                cv2.imwrite(str(out / "grid.png"), canvas)
                seen["png"] = True
                seen["viewport"] = [vp.scale, vp.ox, vp.oy, vp.frame_w, vp.frame_h]
                state.on_key(27)  # Esc

        kw["on_render"] = on_render
        return real_run_window(state, **kw)

    live.run_window = scripted
    mon = Monitor(open_source(sys.argv[1], fps=30, loop=True), measure="lapv")
    code = live.monitor_window(mon, argparse.Namespace(frames=None, seconds=None))
    seen.update(code=code, measure=mon.measure, grid=mon.grid, roi=list(mon.roi) if mon.roi else None,
                running=mon.running, closed=mon.source.closed, count=mon.count)
    json.dump(seen, sys.stdout)
    """
)


@pytest.mark.display
def test_monitor_window_keys_and_mouse_change_the_running_monitor(xvfb, tmp_path):
    from conftest import REPO

    from focuscam.measures import MEASURES
    from focuscam.ui.render import Viewport

    spec = f"replay:{REPO / 'recordings' / 'target_color'}"
    proc = subprocess.run(
        [sys.executable, "-c", MONITOR_KEYS_SCRIPT, spec, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    names = list(MEASURES)
    assert seen["code"] == 0 and seen["count"] > 0
    assert seen["measure"] == names[(names.index("lapv") + 1) % len(names)]  # m
    assert seen["grid"] == [3, 3]  # g
    assert seen["roi"] == [40, 30, 240, 180]  # mouse drag, in frame pixels
    assert not seen["running"] and seen["closed"]  # Esc: monitor stopped, source closed
    img = cv2.imread(str(tmp_path / "grid.png"))
    vp = Viewport(*seen["viewport"])
    # the grid's tile borders are drawn inside the ROI: the middle column edge at x = 40 + 80
    x = round(vp.ox + 120 * vp.scale)
    y0, y1 = round(vp.oy + 40 * vp.scale), round(vp.oy + 200 * vp.scale)
    column = img[y0:y1, x - 1 : x + 2]
    assert np.all(column == 200, axis=2).any(axis=1).mean() > 0.9
    save_screenshot(tmp_path / "grid.png", "monitor.png")


RESIZE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import cv2
    import numpy as np
    from focuscam.ui.actions import EngineActions
    from focuscam.ui.state import UiState
    from focuscam.ui.window import run_window

    actions = EngineActions(measures=["lapv"])
    state = UiState(actions)
    state.push_frame(np.full((240, 320), 128, np.uint8))
    title = "focuscam resize"
    seen = {"sizes": []}

    def script(canvas):
        seen["sizes"].append([canvas.shape[1], canvas.shape[0]])
        n = len(seen["sizes"])
        if n == 2:
            seen["flags"] = cv2.getWindowProperty(title, cv2.WND_PROP_AUTOSIZE)
            cv2.resizeWindow(title, 1000, 660)  # what dragging the window's corner does
        elif n > 2 and seen["sizes"][-1] != seen["sizes"][0]:
            seen["rect"] = list(cv2.getWindowImageRect(title))
            state.on_key(ord("q"))
        elif n > 400:
            state.on_key(ord("q"))

    run_window(state, title=title, on_render=script, poll_ms=5)
    json.dump(seen, sys.stdout)
    """
)


@pytest.mark.display
def test_window_is_resizable_and_the_layout_follows_its_size(xvfb):
    proc = subprocess.run([sys.executable, "-c", RESIZE_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    first, last = seen["sizes"][0], seen["sizes"][-1]
    assert first == list(Layout().size) and first[0] <= 1280 and first[1] <= 720
    assert seen["flags"] != 1  # not WINDOW_AUTOSIZE: the user can resize it
    assert last == [1000, 660] == seen["rect"][2:]  # the view is laid out for the new size


RECORD_SCRIPT = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path
    from focuscam.autofocus import Autofocus
    from focuscam.twin import make_twin
    import focuscam.ui.live as live

    out = Path(sys.argv[2])
    src, drive = make_twin(sys.argv[1])
    af = Autofocus(src, drive, resolution_um=src.spacing_um, record=out / "afrec")
    real = live.run_window
    seen = {"messages": []}

    def run_window(state, **kw):
        stop = kw.pop("should_stop")
        presses = {"n": 0}

        def should_stop():
            presses["loops"] = presses.get("loops", 0) + 1
            if presses["loops"] > 4000:  # never hang the suite: give up (the asserts then fail)
                return True
            msg = state.message
            if msg and (not seen["messages"] or msg != seen["messages"][-1]):
                seen["messages"].append(msg)
            if stop():  # the first run is done and drawn: press a once more
                if presses["n"] == 0:
                    presses["n"] = 1
                    state.on_key(ord("a"))
                    return False
                return state.actions.wait(0) and len(seen["messages"]) >= 4
            return False

        return real(state, should_stop=should_stop, **kw)

    live.run_window = run_window
    args = argparse.Namespace(record=str(out / "afrec"))
    live.autofocus_window(af, args, close_when_done=True)
    seen["record"] = args.record
    json.dump(seen, sys.stdout)
    src.close(); drive.close()
    """
)


@pytest.mark.display
def test_every_autofocus_run_records_into_its_own_subfolder(xvfb, tmp_path):
    from conftest import REPO

    stack = REPO / "recordings" / "target_color"
    proc = subprocess.run(
        [sys.executable, "-c", RECORD_SCRIPT, str(stack), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    runs = sorted(p.name for p in (tmp_path / "afrec").iterdir())
    assert runs == ["run-001", "run-002"]  # the second a did not fail on an existing folder
    for run in runs:
        assert (tmp_path / "afrec" / run / "stack.json").is_file()
    started = [m for m in seen["messages"] if "recording to" in m]
    assert [m.endswith(r) for m, r in zip(started, runs, strict=True)] == [True, True]
    assert not any("already exists" in m for m in seen["messages"])
    assert seen["record"].endswith("run-002")
