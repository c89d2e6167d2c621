"""Real HTTP clients for the tests of ``focuscam serve``: JSON calls, the events stream, MJPEG parts."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

WAIT_S = 120.0  # an upper bound for a wait on an event; never a sleep


class Api:
    """JSON calls as one client (an id and a name in the headers, a token when given)."""

    def __init__(self, base: str, client: str = "test", token: str | None = None) -> None:
        self.base = base.split("?")[0].rstrip("/")
        self.client = client
        self.token = token

    def headers(self) -> dict[str, str]:
        h = {"X-Focuscam-Client": self.client, "X-Focuscam-Name": self.client}
        h["Content-Type"] = "application/json"
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def call(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=self.headers())
        try:
            with urllib.request.urlopen(req, timeout=WAIT_S) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"{}")

    def get(self, path: str) -> tuple[int, dict]:
        return self.call("GET", path)

    def post(self, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        return self.call("POST", path, body if body is not None else ({} if raw is None else None), raw)


class Events:
    """The ``/api/events`` stream of one client, read on a thread into a queue."""

    def __init__(self, api: Api) -> None:
        parts = urlsplit(api.base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT_S)
        self.conn.request("GET", f"/api/events?client={api.client}&name={api.client}", headers=api.headers())
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.items: queue.Queue = queue.Queue()
        self.seen: list[tuple[str, dict]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self._thread.start()
        else:
            self.body = json.loads(self.resp.read() or b"{}")
            self.close()

    def _read(self) -> None:
        kind = None
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind is not None:
                    self.items.put((kind, json.loads(line[6:])))
                    kind = None
        except Exception:  # closed by close(): the stream is over
            pass
        self.items.put(None)

    def wait_for(self, kind: str, pred=lambda d: True, timeout: float = WAIT_S) -> dict:
        """The next event of ``kind`` for which ``pred(data)`` holds (events before it are kept in seen)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.items.get(timeout=max(0.0, deadline - time.monotonic()))
            if item is None:
                raise AssertionError(f"the event stream ended before a {kind!r} event")
            self.seen.append(item)
            if item[0] == kind and pred(item[1]):
                return item[1]

    def close(self) -> None:
        self.conn.close()
        self._thread.join(WAIT_S) if self._thread.is_alive() else None


def mjpeg_parts(base: str, n: int, token: str | None = None, query: str = "") -> list[tuple[dict, bytes]]:
    """The first ``n`` parts of ``/stream.mjpg`` (``query``: e.g. ``?width=320``): (headers, jpeg)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT_S)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    conn.request("GET", "/stream.mjpg" + query, headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    assert resp.getheader("Content-Type").startswith("multipart/x-mixed-replace; boundary=")
    out = []
    try:
        while len(out) < n:
            line = resp.readline()
            if not line.strip():
                continue
            assert line.startswith(b"--"), line
            head = {}
            while (line := resp.readline().strip()) != b"":
                key, _, value = line.decode().partition(":")
                head[key.strip().lower()] = value.strip()
            out.append((head, resp.read(int(head["content-length"]))))
    finally:
        conn.close()
    return out
