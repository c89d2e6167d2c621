"""The token of ``focuscam serve`` over real HTTP: every route of the app, the MJPEG stream and the
events stream refuse (401, one line) a request without it or with a wrong one, in every way a token
can be given, and nothing happens; with it, every route gets past the check.

The routes are read from the app itself, so a route added later is checked too.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from starlette.routing import Mount, Route

from tests.conftest import shared_stack

from .helpers import WAIT_S

pytestmark = pytest.mark.shared

TOKEN = "t0ken-under-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from focuscam.twin import make_twin
    from focuscam.web.server import WebServer

    src, drive = make_twin(shared_stack("fpd_webcam_rep1"), clock="wall", sweep_s=0.5)
    out = tmp_path_factory.mktemp("serve-token-out")
    web = WebServer(src, drive, twin=src, jog_um=src.spacing_um, out_dir=out, token=TOKEN)
    web.start()
    yield web
    web.stop()


def _requests(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app (a GET for a static mount), and a path of none."""
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            out.append(("GET", route.path + "/app.js"))
        elif isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return [*out, ("GET", "/no/such/route")]


def _call(base: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
    """(status, headers, the first bytes of the body) of one request; streams are not read on."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT_S)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        length = resp.getheader("Content-Length")
        data = resp.read() if length is not None else resp.read1(64)
        return resp.status, resp.headers, data
    finally:
        conn.close()


def _ways(token: str) -> list[tuple[dict[str, str], str]]:
    """Every way a client may give a token: (headers, query suffix)."""
    return [
        ({"Authorization": f"Bearer {token}"}, ""),
        ({"X-Focuscam-Token": token}, ""),
        ({"Cookie": f"focuscam_token={token}"}, ""),
        ({}, f"token={token}"),
    ]


def _with_query(path: str, query: str) -> str:
    return path if not query else path + ("&" if "?" in path else "?") + query


def test_every_route_and_stream_refuses_a_missing_or_wrong_token(server):
    requests = _requests(server.app)
    paths = {p for _, p in requests}
    assert {"/stream.mjpg", "/api/events", "/api/move", "/api/stop", "/"} <= paths  # the app's own list
    drive = server.scope.drive
    before = float(drive.position)
    bad = [({}, "", "needs its token")] + [(h, q, "wrong token") for h, q in _ways("not-" + TOKEN)]
    for method, path in requests:
        for headers, query, expected in bad:
            body = b'{"by_um": 1000}' if method == "POST" else None
            status, head, data = _call(server.url, method, _with_query(path, query), headers, body)
            assert status == 401, (method, path, headers, query, status)
            assert head["Content-Type"] == "application/json"
            assert expected in data.decode() and b"Traceback" not in data
            assert "set-cookie" not in {k.lower() for k in head}  # a wrong token earns no cookie
    assert not drive.moving and float(drive.position) == before  # nothing moved
    assert server.scope.jobs.owner is None and server.scope.desk.to_json() is None  # nobody took control


def test_with_the_token_every_route_gets_past_the_check(server):
    for method, path in _requests(server.app):
        for headers, query in _ways(TOKEN):
            # a POST with a body that is not JSON: past the token it is refused (400) before it acts
            body = b"not json" if method == "POST" else None
            status, head, data = _call(server.url, method, _with_query(path, query), headers, body)
            assert status != 401, (method, path, headers, query, data)
            if method == "POST":
                assert status == 400 and b"not JSON" in data, (path, status, data)
            if path in ("/stream.mjpg", "/api/events"):
                assert status == 200 and data, path  # the stream has begun
            if query:  # the page's URL as printed: the token becomes a cookie for its files and streams
                assert f"focuscam_token={TOKEN}" in head["Set-Cookie"]
