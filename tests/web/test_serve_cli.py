"""``focuscam serve`` as a process: the URL as the first line, --port 0, tokens, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import _cli_env, shared_stack

from .helpers import Api, Events, mjpeg_parts

pytestmark = pytest.mark.shared


def _serve(*args: str, cwd) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "focuscam", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=_cli_env(),
    )
    url = proc.stdout.readline().strip()  # waits for the first line (or the end of the process)
    if not url:
        proc.wait(60)
        raise AssertionError(f"serve printed no URL: {proc.stderr.read()}")
    return proc, url


@pytest.fixture
def served(tmp_path):
    procs = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        proc, url = _serve(*args, cwd=tmp_path)
        procs.append(proc)
        return proc, url

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_url_first_then_ctrl_c_exits_130_with_the_drive_stopped(served):
    proc, url = served("--source", f"replay:{shared_stack('fpd_webcam_rep1')}", "--drive", "sim")
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert port > 0  # --port 0: the port the system gave
    a = Api(url)
    events = Events(a)
    try:
        assert a.get("/api/state")[0] == 200
        assert a.post("/api/move", {"by_um": -20000.0})[0] == 202
        events.wait_for("state", lambda d: d["owner"] == "move")
        proc.send_signal(signal.SIGINT)  # Ctrl-C while the drive moves
        assert proc.wait(60) == 130
    finally:
        events.close()
    err = proc.stderr.read()
    assert "drive stopped at z =" in err and "camera released" in err
    assert "Traceback" not in err
    assert proc.stdout.read() == ""  # the URL was the only line on stdout


def test_token_is_checked_on_every_request_and_stream(served):
    _, url = served("--source", f"replay:{shared_stack('fpd_webcam_rep1')}", "--token", "s3cret")
    assert url.endswith("/?token=s3cret")
    for token in (None, "wrong"):
        bad = Api(url, token=token)
        calls = (("GET", "/api/state"), ("POST", "/api/stop"), ("GET", "/"), ("GET", "/stream.mjpg"))
        for method, path in calls:
            code, out = bad.call(method, path, {} if method == "POST" else None)
            assert code == 401, (path, token)
            assert ("wrong token" if token else "needs its token") in out["error"]
        assert Events(bad).status == 401
    good = Api(url, token="s3cret")
    code, state = good.get("/api/state")
    assert code == 200 and state["drive"] is None  # watch only: no --drive
    code, out = good.post("/api/autofocus", {})
    assert code == 409 and "--drive" in out["error"]
    assert len(mjpeg_parts(url, 1, token="s3cret")) == 1
    base = url.split("?")[0]
    with urllib.request.urlopen(base + "?token=s3cret") as resp:  # the page's URL, as printed
        assert resp.status == 200
        cookie = resp.headers["Set-Cookie"].split(";")[0]
    assert cookie == "focuscam_token=s3cret"  # so the page's own files and streams carry it
    request = urllib.request.Request(base + "static/app.js", headers={"Cookie": cookie})
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 200
    assert Api(url).call("GET", "/static/app.js")[0] == 401


def test_other_address_without_token_gets_one_generated(served):
    _, url = served("--source", f"replay:{shared_stack('fpd_webcam_rep1')}", "--host", "0.0.0.0")
    base, _, token = url.partition("/?token=")
    assert len(token) >= 16
    host_url = base.replace("0.0.0.0", "127.0.0.1") + "/"
    assert Api(host_url).get("/api/state")[0] == 401
    assert Api(host_url, token=token).get("/api/state")[0] == 200


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--port", "70000"], "out of range"),
        (["--token", ""], "--token is empty"),
        (["--source", "replay:/nonexistent/stack"], "nonexistent"),
        ([], "source"),
    ],
)
def test_bad_usage_is_one_line_exit_2(run_cli, args, match):
    proc = run_cli("serve", *args, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr
    assert proc.stdout == ""


def test_a_port_in_use_is_one_line(run_cli, served):
    _, url = served("--source", f"replay:{shared_stack('fpd_webcam_rep1')}")
    port = url.rsplit(":", 1)[1].strip("/")
    stack = shared_stack("fpd_webcam_rep1")
    proc = run_cli("serve", "--source", f"replay:{stack}", "--port", port, timeout=120)
    assert proc.returncode == 2
    assert "cannot listen" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
