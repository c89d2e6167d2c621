"""The README's section on ``focuscam serve`` matches the app: every route is documented, every
documented route exists, and the state's keys are the ones ``GET /api/state`` answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from starlette.routing import Route

README = Path(__file__).resolve().parents[2] / "README.md"
ROUTE = re.compile(r"`(GET|POST) (/[^`\s?]*)")


@pytest.fixture(scope="module")
def section() -> str:
    text = README.read_text()
    start = text.index("## Web interface (focuscam serve)")
    return text[start : text.index("\n## ", start + 1)]


@pytest.fixture(scope="module")
def web():
    from focuscam.sources.replay import ReplaySource
    from focuscam.stacks import Stack
    from focuscam.web.server import WebServer

    frames = [np.full((48, 64), 10 * k, np.uint8) for k in range(3)]
    server = WebServer(ReplaySource(Stack.from_frames(frames, name="docs")))  # never started
    yield server
    server.close()


def _routes(app) -> set[tuple[str, str]]:
    return {
        (m, r.path)
        for r in app.routes
        if isinstance(r, Route) and r.path != "/"
        for m in (r.methods or ())
        if m != "HEAD"
    }


def test_every_route_is_documented_and_every_documented_route_exists(section, web):
    documented = set(ROUTE.findall(section))
    routes = _routes(web.app)
    assert routes - documented == set(), "routes missing in the README"
    assert documented - routes == set(), "the README documents routes the app does not have"


def test_the_documented_state_keys_are_the_answer_of_get_api_state(section, web):
    row = next(line for line in section.splitlines() if line.startswith("| `GET /api/state`"))
    answer = row.split("|")[3]
    documented = set(re.findall(r"`([a-z_]+)`", answer))
    assert documented == set(web.scope.state_json())
