"""The measure of ``focuscam serve``'s autofocus: ``auto`` until one is chosen, as in
``focuscam autofocus``; over real HTTP against a running server on the twin of
``udaf_metal_iy000`` (11 planes at irregular offsets, where ``coarse-fine`` with ``lapv`` at the
first bin finds no significant peak and ``auto`` goes on with another measure)."""

from __future__ import annotations

import pytest

from tests.conftest import shared_stack

from .helpers import Api, Events

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from focuscam.twin import make_twin
    from focuscam.web.server import WebServer

    src, drive = make_twin(shared_stack("udaf_metal_iy000"), clock="wall", sweep_s=0.5)
    web = WebServer(src, drive, twin=src, jog_um=src.spacing_um, out_dir=tmp_path_factory.mktemp("out"))
    web.start()
    yield web
    web.stop()


def _autofocus(a: Api, **body) -> dict:
    """A coarse-fine run from the lower end of the drive's range (as `evaluate`'s first start)."""
    events = Events(a)
    try:
        lo = a.get("/api/state")[1]["drive"]["limits_um"][0]
        code, out = a.post("/api/move", {"z_um": lo})
        assert code == 202, out
        events.wait_for("state", lambda d: d["owner"] is None and d["z_um"] == pytest.approx(lo))
        code, out = a.post("/api/autofocus", {"strategy": "coarse-fine", **body})
        assert code == 202, out
        return events.wait_for("result")
    finally:
        events.close()


def test_autofocus_is_auto_until_a_measure_is_chosen(server):
    a = Api(server.url, "alice")
    try:
        code, state = a.get("/api/state")
        assert code == 200
        assert state["autofocus_measure"] == "auto" and state["measure"] == "lapv"
        result = _autofocus(a)
        assert result["state"] == "focused" and result["within_tolerance"], result
        # lapv at bin 2 found no significant peak here: auto went on with another measure
        assert result["measure"] != "lapv" and "with lapv" in result["reason"], result

        code, state = a.post("/api/measure", {"measure": "lapv"})
        assert code == 200 and state["autofocus_measure"] == "lapv" and state["measure"] == "lapv"
        alone = _autofocus(a)  # a chosen measure is used alone (at a coarser bin, the bin retry)
        assert alone["measure"] == "lapv" and "teng" not in alone["reason"], alone

        code, state = a.post("/api/measure", {"measure": "auto"})
        assert code == 200 and state["autofocus_measure"] == "auto"
        assert state["measure"] == "lapv"  # the live score keeps its measure
        named = _autofocus(a, measure="lapv")  # a run's own measure beats the choice
        assert named["measure"] == "lapv" and "teng" not in named["reason"], named
    finally:
        a.post("/api/stop")
        server.scope.jobs.wait(30)
        a.post("/api/release")


def test_an_unknown_measure_names_auto_among_the_choices(server):
    a = Api(server.url, "bob")
    try:
        code, out = a.post("/api/measure", {"measure": "nope"})
        assert code == 422 and "auto" in out["error"] and "lapv" in out["error"]
    finally:
        a.post("/api/release")
