"""The JSON API of ``focuscam serve`` over real HTTP: a real uvicorn on 127.0.0.1 (port 0) in a
thread, serving the digital twin (a replay of fpd_webcam_rep1 + the simulated drive) in real time."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import shared_stack

from .helpers import Api, Events, mjpeg_parts

pytestmark = pytest.mark.shared

RESULT_KEYS = {  # what `focuscam autofocus --json` prints on the twin
    "z_um", "state", "confidence", "frames", "moves", "travel_um", "elapsed_s", "strategy",
    "target_z_um", "verify_score", "peak_score", "searches", "measure", "reason", "samples",
    "stack", "z_unit", "z", "truth", "within_tolerance", "schema",
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from focuscam.twin import make_twin
    from focuscam.web.server import WebServer

    src, drive = make_twin(shared_stack("fpd_webcam_rep1"), clock="wall", sweep_s=0.5)
    out = tmp_path_factory.mktemp("serve-out")
    web = WebServer(src, drive, twin=src, jog_um=src.spacing_um, out_dir=out)
    web.start()
    yield web
    web.stop()


@pytest.fixture
def api(server):
    """A client; after the test the drive is stopped and every test client released."""
    clients = []

    def make(name: str = "alice") -> Api:
        client = Api(server.url, name)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.post("/api/stop")
        if server.scope.jobs.owner is not None:  # a job still ending after STOP
            server.scope.jobs.wait(30)
        client.post("/api/release")


def _run_autofocus(a: Api, events: Events, **body) -> dict:
    code, out = a.post("/api/autofocus", body)
    assert code == 202, out
    assert out["state"] == "scanning"
    return events.wait_for("result")


def test_autofocus_over_http_finds_the_truth_and_streams_every_sample(api):
    a = api()
    events = Events(a)
    try:
        events.wait_for("sample")  # the live score is flowing
        result = _run_autofocus(a, events, strategy="coarse-fine", measure="lapv")
        curve = [(k, d) for k, d in events.seen if k == "curve"]
    finally:
        events.close()
    assert result["state"] == "focused" and result["within_tolerance"], result
    code, last = a.get("/api/result")
    assert code == 200
    assert set(last) >= RESULT_KEYS
    assert abs(last["z"] - last["truth"]["z"]) <= last["truth"]["tolerance"]
    assert len(curve) == len(last["samples"])  # every sample was an event
    assert last["model"], "the fitted model is drawn through the peak"
    code, state = a.get("/api/state")
    assert state["state"] == "focused" and state["confidence"] > 0
    assert state["last_result"]["z_um"] == last["z_um"]
    assert state["lock"] == {"on": False, "available": True}
    assert state["unit"] == {"name": "mm", "um_per_unit": 1000.0}
    for key in ("z_um", "score", "measure", "roi", "fps", "dropped"):
        assert key in state


def test_lock_holds_the_drive_until_unlock(api):
    a = api()
    code, out = a.post("/api/lock")
    events = Events(a)
    try:
        if code == 409:  # no focused run yet on this server: focus first
            assert "focused autofocus run" in out["error"]
            assert _run_autofocus(a, events)["state"] == "focused"
            code, out = a.post("/api/lock")
        assert code == 200, out
        assert out["state"] == "locked" and out["lock"]["on"] and out["owner"] == "lock"
        events.wait_for("curve", lambda d: d["lock"])  # the lock scores frames
    finally:
        events.close()
    code, out = a.post("/api/move", {"by_um": 1000.0})
    assert code == 409 and "lock" in out["error"]
    code, out = a.post("/api/autofocus", {})
    assert code == 409
    code, out = a.post("/api/unlock")
    assert code == 200 and not out["lock"]["on"] and out["owner"] is None
    code, out = a.post("/api/unlock")
    assert code == 409 and "not on" in out["error"]


def test_stop_mid_run_stops_the_drive_and_frees_it(server, api):
    a = api()
    events = Events(a)
    try:
        code, _ = a.post("/api/autofocus", {})
        assert code == 202
        events.wait_for("curve")  # the run is under way
        code, out = a.post("/api/stop")
        assert code == 200
        stopped = events.wait_for("state", lambda d: d["state"] == "stopped" and d["owner"] is None)
    finally:
        events.close()
    assert "stopped at" in stopped["reason"]
    assert not server.scope.drive.moving
    code, out = a.post("/api/move", {"by_um": 1000.0})  # the drive is free again
    assert code == 202, out


def test_a_move_outside_the_limits_is_refused_and_nothing_moves(server, api):
    a = api()
    drive = server.scope.drive
    sent = len(drive.commands)
    before = drive.position
    hi = drive.limits.hi
    for body in ({"z_um": hi + 1.0}, {"by_um": hi - drive.limits.lo + 1.0}):
        code, out = a.post("/api/move", body)
        assert code == 422, out
        assert "limits" in out["error"] and "\n" not in out["error"]
    assert len(drive.commands) == sent  # nothing was sent to the drive
    assert drive.position == before
    code, out = a.post("/api/move", {"z_um": hi})  # the limit itself is fine
    assert code == 202 and out["target_um"] == hi  # not clamped, exactly what was asked


@pytest.mark.parametrize(
    ("path", "raw", "code", "match"),
    [
        ("/api/move", b"not json", 400, "not JSON"),
        ("/api/move", b"[1, 2]", 400, "not an object"),
        ("/api/move", b'{"z": 1}', 400, "unknown key 'z'"),
        ("/api/move", b'{"z_um": 1, "by_um": 2}', 400, "exactly one"),
        ("/api/move", b'{"z_um": "up"}', 400, "not a finite number"),
        ("/api/autofocus", b'{"strategy": "zigzag"}', 422, "zigzag"),
        ("/api/autofocus", b'{"range": [5, 1]}', 422, "range"),
        ("/api/autofocus", b'{"range": [-1e9, 0]}', 422, "limits"),
        ("/api/autofocus", b'{"roi": [0, 0, 9999, 10]}', 422, "leaves the"),
        ("/api/measure", b'{"measure": "nope"}', 422, "unknown"),
        ("/api/roi", b'{"roi": [1, 2, 3]}', 400, "x, y, w, h"),
        ("/api/record", b'{"on": "yes"}', 400, "true or false"),
    ],
)
def test_bad_requests_are_one_line_with_their_status(api, path, raw, code, match):
    got, out = api().post(path, raw=raw)
    assert got == code, out
    assert match in out["error"] and "\n" not in out["error"] and "Traceback" not in out["error"]


def test_two_clients_one_controls_the_other_watches_and_may_stop(server, api):
    a, b = api("alice"), api("bob")
    watch = Events(b)
    try:
        code, _ = a.post("/api/autofocus", {})
        assert code == 202
        watch.wait_for("state", lambda d: d["state"] == "scanning" and d["controller"]["name"] == "alice")
        watch.wait_for("curve")  # bob sees alice's curve grow
        code, out = b.post("/api/move", {"by_um": 1.0})
        assert code == 409 and "alice controls" in out["error"]
        code, out = b.post("/api/roi", {"roi": [0, 0, 100, 100]})
        assert code == 409
        code, out = b.get("/api/state")
        assert out["controller"]["name"] == "alice" and out["owner"] == "search"
        code, out = b.post("/api/stop")  # STOP works for everyone
        assert code == 200
        watch.wait_for("state", lambda d: d["state"] == "stopped" and d["owner"] is None)
    finally:
        watch.close()
    assert a.post("/api/release")[0] == 200
    code, out = b.post("/api/move", {"by_um": 1000.0})  # now bob may control
    assert code == 202 and out["controller"]["name"] == "bob"


def test_roi_measure_and_grid_reach_the_monitor(server, api):
    a = api()
    events = Events(a)
    try:
        code, out = a.post("/api/roi", {"roi": {"x": 100, "y": 100, "w": 200, "h": 150}})
        assert code == 200 and out["roi"] == {"x": 100, "y": 100, "w": 200, "h": 150}
        assert a.post("/api/measure", {"measure": "teng"})[1]["measure"] == "teng"
        assert a.post("/api/grid", {"on": True})[1]["grid"] == [3, 3]
        sample = events.wait_for("sample", lambda d: d["measure"] == "teng" and d.get("focus_map"))
    finally:
        events.close()
        a.post("/api/grid", {"on": False})
        a.post("/api/roi", {"roi": None})
        a.post("/api/measure", {"measure": "lapv"})
    assert np.asarray(sample["focus_map"]).shape == (3, 3)
    assert server.scope.monitor.roi is None


def test_snapshot_and_recording(server, api):
    from focuscam.stacks import load_stack

    a = api()
    code, out = a.post("/api/snapshot")
    assert code == 200 and cv2.imread(out["snapshot"]) is not None
    code, out = a.post("/api/record", {"on": False})
    assert code == 409 and "already off" in out["error"]
    events = Events(a)
    try:
        code, out = a.post("/api/record", {"on": True})
        assert code == 200 and out["recording"] and "recording to" in out["message"]
        events.wait_for("recorded", lambda d: d["frames"] >= 5)  # live frames are being written
    finally:
        events.close()
    code, out = a.post("/api/record", {"on": False})
    assert code == 200 and not out["recording"]
    n, folder = out["message"].removeprefix("recorded ").split(" frames to ", 1)
    assert len(load_stack(folder)) == int(n) >= 5


def test_mjpeg_parts_carry_capture_time_and_sequence(server):
    parts = mjpeg_parts(server.url, 3)
    seqs = [int(h["x-frame-seq"]) for h, _ in parts]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert all(float(h["x-capture-t"]) > 0 for h, _ in parts)
    image = cv2.imdecode(np.frombuffer(parts[-1][1], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (400, 400)
    # a page that shows the frame 300 px wide gets it scaled down (to a multiple of 64), never up
    for query, size in (("?width=300", (320, 320)), ("?width=5000", (400, 400))):
        ((_, jpeg),) = mjpeg_parts(server.url, 1, query=query)
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == size
    code, out = Api(server.url).get("/stream.mjpg?width=wide")
    assert code == 400 and "width" in out["error"]


def test_page_static_files_and_openapi(server):
    import urllib.request

    with urllib.request.urlopen(server.url) as resp:
        page = resp.read().decode()
    assert '<canvas id="curve"' in page and "http" not in page.replace("http-equiv", "")  # no CDN
    for name in ("app.js", "plot.js", "style.css"):
        with urllib.request.urlopen(server.url + "static/" + name) as resp:
            assert resp.status == 200
    code, spec = Api(server.url).get("/api/openapi.json")
    assert code == 200
    for path in ("/api/state", "/api/autofocus", "/api/stop", "/api/move", "/api/result", "/api/events"):
        assert path in spec["paths"]


def test_control_passes_on_when_the_holder_has_gone(api, monkeypatch):
    import focuscam.web.clients as clients

    monkeypatch.setattr(clients, "CONTROL_TIMEOUT_S", 0.0)
    a, b = api("carol"), api("dave")
    watch = Events(b)
    page = Events(a)  # carol's page is open: she keeps control however long she is silent
    try:
        watch.wait_for("state", lambda d: d["watchers"] == 2)
        assert a.post("/api/roi", {"roi": None})[0] == 200
        code, out = b.post("/api/roi", {"roi": None})
        assert code == 409 and "carol controls" in out["error"]
        page.close()  # her page closes, and she asks nothing more
        watch.wait_for("state", lambda d: d["watchers"] == 1)
    finally:
        page.close()
        watch.close()
    code, out = b.post("/api/roi", {"roi": None})
    assert code == 200 and out["controller"]["name"] == "dave"
