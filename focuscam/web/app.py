"""The HTTP side of ``focuscam serve``: the page, the JSON API and the streams (Starlette).

Every route calls the :class:`~focuscam.web.engine.Microscope`; engine calls that may wait
(STOP waits for the run to end) run in Starlette's thread pool, never on the event loop.

Errors are JSON ``{"error": "one line"}``: 400 for a request that cannot be read (not JSON, a
missing or unknown key, a wrong type), 409 for one that conflicts with what runs now (the drive
is busy, another client controls it, lock without a focused run), 422 for values that cannot be
used (a move outside the drive's limits, an unknown measure or strategy, an ROI outside the
frame), 401 for a missing or wrong token, 503 when the device failed.

Clients name themselves with the headers ``X-Focuscam-Client`` (an id) and
``X-Focuscam-Name`` (shown to the others), or the query parameters ``client`` and ``name``
(the events stream); without them a client is its peer address. The token (when the server
has one) comes as ``Authorization: Bearer TOKEN``, ``X-Focuscam-Token: TOKEN`` or ``?token=``.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles

from ..errors import ConflictError, DeviceError, FocuscamError, InputError, LimitError, SourceError
from ..types import ROI
from .clients import Client
from .engine import Microscope
from .stream import BOUNDARY, EventBus, JpegStream, sse

__all__ = ["BadRequest", "create_app"]

STATIC = Path(__file__).parent / "static"
_SCHEMAS = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "focuscam serve", "version": "1"}})


class BadRequest(FocuscamError):
    """A request body or query that cannot be read (HTTP 400)."""


def _line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": _line(message)}, status_code=status)


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error raised by a route."""
    if isinstance(exc, BadRequest):
        return 400
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InputError | LimitError):
        return 422
    if isinstance(exc, DeviceError | SourceError):
        return 503
    return 500


# ---------------------------------------------------------------------- body parsing
async def _body(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('the body is not JSON: send a JSON object, e.g. {"z_um": 10}') from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body is a JSON {type(body).__name__}, not an object: send {{...}}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown key {unknown[0]!r}: use {', '.join(allowed) or 'no keys'}")
    return body


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{key} {value!r} is not a finite number (um)")
    return float(value)


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} {value!r} is not a string")
    return value or None


def _flag(body: dict, key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} {value!r} must be true or false")
    return value


def parse_roi(value: Any) -> ROI | None:
    """An ROI from JSON: null, [x, y, w, h] or {"x", "y", "w", "h"} (non-negative integers)."""
    if value is None:
        return None
    if isinstance(value, dict):
        if set(value) != {"x", "y", "w", "h"}:
            raise BadRequest(f"roi {value!r} needs exactly the keys x, y, w, h (pixels)")
        value = [value["x"], value["y"], value["w"], value["h"]]
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise BadRequest(f"roi {value!r} is not [x, y, w, h]: give four integers (pixels)")
    if min(value) < 0:
        raise InputError(f"roi {value!r} has a negative value: give x, y, w, h >= 0 (pixels)")
    return ROI(*value)


def _range(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise BadRequest(f"range {value!r} is not [lo, hi]: give two numbers in um")
    return float(value[0]), float(value[1])


# ---------------------------------------------------------------------- the app
def create_app(scope: Microscope, bus: EventBus, jpeg: JpegStream, *, token: str | None = None) -> Starlette:
    """The Starlette app of ``focuscam serve`` over a started :class:`Microscope`.

    Parameters
    ----------
    scope : Microscope
        The engine (its ``publish`` should be ``bus.publish``).
    bus : EventBus
        Feeds ``/api/events``.
    jpeg : JpegStream
        Feeds ``/stream.mjpg`` (offer it the hub's frames).
    token : str, optional
        When set, every request and stream must carry it (401 otherwise).
    """

    def client_of(request: Request) -> Client:
        cid = request.headers.get("x-focuscam-client") or request.query_params.get("client")
        name = request.headers.get("x-focuscam-name") or request.query_params.get("name")
        host = request.client.host if request.client is not None else "unknown"
        cid = _line(cid or f"api@{host}")[:64]
        client = Client(cid, _line(name or cid)[:64])
        scope.seen(client)
        return client

    def action(allowed: tuple[str, ...], run: Any, status: int = 200) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                body = await _body(request, allowed)
                client = client_of(request)
                extra = await run_in_threadpool(run, client, body)
            except Exception as exc:
                return _error(status_for(exc), str(exc) or type(exc).__name__)
            out = scope.state_json()
            if isinstance(extra, dict):
                out.update(extra)
            return JSONResponse(bus_clean(out), status_code=status)

        endpoint.__doc__ = run.__doc__
        return endpoint

    # -------------------------------------------------------------- actions (POST)
    def do_autofocus(client: Client, body: dict) -> None:
        """
        summary: start an autofocus run (answers at once with 202; the run goes on)
        description: "body: {strategy: str, range: [lo_um, hi_um], measure: str, roi: [x, y, w, h]}"
        """
        scope.jobs.autofocus(
            client,
            strategy=_text(body, "strategy"),
            range_um=_range(body.get("range")),
            measure=_text(body, "measure"),
            roi=parse_roi(body.get("roi")),
        )

    def do_stop(client: Client, body: dict) -> None:
        """
        summary: STOP the drive, the run, the lock (accepted from every client)
        """
        scope.jobs.stop(client)

    def do_lock(client: Client, body: dict) -> None:
        """
        summary: hold focus with the focus lock (needs a focused run)
        """
        scope.jobs.lock(client)

    def do_unlock(client: Client, body: dict) -> None:
        """
        summary: stop the focus lock
        """
        scope.jobs.unlock(client)

    def do_move(client: Client, body: dict) -> dict:
        """
        summary: move to z_um or by by_um (um); outside the limits is refused (422), nothing moves
        description: "body: {z_um: float} or {by_um: float}"
        """
        z, by = _number(body, "z_um"), _number(body, "by_um")
        if (z is None) == (by is None):
            raise BadRequest('give exactly one of z_um (absolute) or by_um (relative), e.g. {"by_um": 10}')
        return {"target_um": scope.jobs.move(client, z_um=z, by_um=by)}

    def do_roi(client: Client, body: dict) -> None:
        """
        summary: score this ROI (frame pixels; null = the whole frame)
        description: "body: {roi: [x, y, w, h] or {x, y, w, h} or null}"
        """
        if "roi" not in body:
            raise BadRequest('give {"roi": [x, y, w, h]} or {"roi": null} for the whole frame')
        scope.set_roi(client, parse_roi(body["roi"]))

    def do_measure(client: Client, body: dict) -> None:
        """
        summary: choose the focus measure
        description: "body: {measure: str}"
        """
        name = _text(body, "measure")
        if name is None:
            raise BadRequest('give {"measure": NAME}, e.g. {"measure": "lapv"}')
        scope.set_measure(client, name)

    def do_grid(client: Client, body: dict) -> None:
        """
        summary: show the focus-map grid or not
        description: "body: {on: bool}"
        """
        scope.set_grid(client, _flag(body, "on"))

    def do_record(client: Client, body: dict) -> dict:
        """
        summary: start or stop recording the live frames (a stack in the output folder)
        description: "body: {on: bool}"
        """
        return {"message": scope.record(client, _flag(body, "on"))}

    def do_snapshot(client: Client, body: dict) -> dict:
        """
        summary: save the newest frame as a PNG in the output folder
        """
        return {"snapshot": scope.snapshot()}

    def do_control(client: Client, body: dict) -> None:
        """
        summary: take control of the microscope (409 when another client holds it)
        """
        scope.claim(client)

    def do_release(client: Client, body: dict) -> None:
        """
        summary: give up control
        """
        scope.release(client)

    # -------------------------------------------------------------- reads (GET)
    async def state(request: Request) -> Response:
        """
        summary: the state (state, z_um, score, measure, roi, fps, dropped, lock, last result, ...)
        """
        client_of(request)
        return JSONResponse(bus_clean(scope.state_json()))

    async def result(request: Request) -> Response:
        """
        summary: the last autofocus result, as focuscam autofocus --json prints it
        """
        out = scope.result_json()
        if out is None:
            return _error(404, "no autofocus result yet: POST /api/autofocus first")
        return JSONResponse(bus_clean(out))

    async def snapshot_png(request: Request) -> Response:
        """
        summary: the newest frame as a PNG (download)
        """
        frame = scope.hub.latest
        if frame is None:
            return _error(409, "no frame yet: wait for the camera")
        import cv2

        ok, buf = cv2.imencode(".png", frame.pixels)
        if not ok:
            return _error(500, "the frame could not be encoded as PNG")
        return Response(buf.tobytes(), media_type="image/png")

    async def events(request: Request) -> Response:
        """
        summary: server-sent events (text/event-stream) of every sample and state change
        """
        client = client_of(request)
        first = sse("state", scope.state_json())

        async def body():
            scope.connected(client, +1)
            try:
                async for text in bus.stream(first=first):
                    yield text
            finally:
                scope.connected(client, -1)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    async def mjpeg(request: Request) -> Response:
        """
        summary: the live view as multipart MJPEG; each part has X-Frame-Seq and X-Capture-T
        description: "?width=N scales the frames down to N display pixels (a multiple of 64)"
        """
        text = request.query_params.get("width")
        width = None
        if text is not None:
            width = int(text) if text.isdigit() else 0
            if width < 1:
                return _error(400, f"width {text!r} is not a whole number of pixels >= 1")
        return StreamingResponse(
            jpeg.parts(width),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(_SCHEMAS.get_schema(routes=request.app.routes))

    post = {
        "autofocus": (("strategy", "range", "measure", "roi"), do_autofocus, 202),
        "stop": ((), do_stop, 200),
        "lock": ((), do_lock, 200),
        "unlock": ((), do_unlock, 200),
        "move": (("z_um", "by_um"), do_move, 202),
        "roi": (("roi",), do_roi, 200),
        "measure": (("measure",), do_measure, 200),
        "grid": (("on",), do_grid, 200),
        "record": (("on",), do_record, 200),
        "snapshot": ((), do_snapshot, 200),
        "control": ((), do_control, 200),
        "release": ((), do_release, 200),
    }
    routes = [
        Route("/", index, include_in_schema=False),
        Route("/api/state", state),
        Route("/api/result", result),
        Route("/api/snapshot.png", snapshot_png),
        Route("/api/events", events),
        Route("/stream.mjpg", mjpeg),
        Route("/api/openapi.json", openapi, include_in_schema=False),
    ]
    routes += [
        Route(f"/api/{name}", action(keys, run, status), methods=["POST"])
        for name, (keys, run, status) in post.items()
    ]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(routes=routes)
    app.add_middleware(TokenMiddleware, token=token)
    app.state.scope = scope
    return app


def bus_clean(data: Any) -> Any:
    """JSON-ready (numpy values to Python, non-finite floats to null)."""
    from .stream import _clean

    return _clean(data)


class TokenMiddleware:
    """Refuse (401) every HTTP request and WebSocket without the server's token (when it has one).

    The token is read from ``Authorization: Bearer``, ``X-Focuscam-Token``, ``?token=`` or the
    ``focuscam_token`` cookie; a request that brought it in the query gets the cookie set
    (HttpOnly, SameSite=Strict), so the page's own scripts, styles and streams carry it.
    """

    COOKIE = "focuscam_token"

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token

    def _given(self, scope: dict) -> tuple[str | None, bool]:
        """(the token given, whether it came in the query string)."""
        from http.cookies import CookieError, SimpleCookie
        from urllib.parse import parse_qs

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-focuscam-token" in headers:
            return headers["x-focuscam-token"].strip(), False
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if values:
            return values[0], True
        try:
            cookie = SimpleCookie(headers.get("cookie", ""))
        except CookieError:
            return None, False
        morsel = cookie.get(self.COOKIE)
        return (morsel.value if morsel is not None else None), False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given, in_query = self._given(scope)
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            if not in_query or scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            cookie = f"{self.COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

            async def send_with_cookie(message: dict) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        message = (
            "this server needs its token: open the URL it printed (with ?token=...) or send "
            "Authorization: Bearer TOKEN"
            if given is None
            else "wrong token: use the token the server printed at start-up"
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await _error(401, message)(scope, receive, send)
