"""Run the web app on uvicorn: in the main thread (``focuscam serve``) or a thread (tests, benchmarks).

:class:`WebServer` wires the engine, the streams and the app. On Ctrl-C (or :meth:`stop`) the
drive is stopped at once (from the signal handler), the streams end so that uvicorn can close
every connection, and then the engine is closed: jobs joined, recording closed, camera released,
drive closed.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from .._threads import Worker
from .app import create_app
from .engine import Microscope
from .stream import EventBus, JpegStream

__all__ = ["WebServer"]

#: Seconds between uvicorn's ticks (its own are 0.1 s apart); an exit does not wait for one.
_TICK_S = 1.0


class WebServer:
    """The engine and the app of ``focuscam serve`` on one listening socket.

    Parameters
    ----------
    source, drive
        The frame source and the focus drive (or None); the server closes both.
    token : str, optional
        Required on every request when set.
    **engine
        More options of :class:`~focuscam.web.engine.Microscope` (twin, mode, measure, roi, ...).
    """

    def __init__(self, source: Any, drive: Any = None, *, token: str | None = None, **engine: Any) -> None:
        self.bus = EventBus()
        watching = None
        if hasattr(source, "keep_jpeg"):  # a replay of JPEG files: the live view sends them on as they are

            def watching(on: bool) -> None:  # their bytes are read only while somebody watches
                source.keep_jpeg = on

        self.jpeg = JpegStream(watching=watching)
        try:
            self.scope = Microscope(source, drive, publish=self.bus.publish, **engine)
        except BaseException:
            self.jpeg.close()
            source.close()
            if drive is not None:
                drive.close()
            raise
        self.scope.hub.listen(self.jpeg.offer)
        self.app = create_app(self.scope, self.bus, self.jpeg, token=token)
        self.token = token
        self._uvicorn: Any = None
        self._thread: Worker | None = None
        self.url: str | None = None

    def _server(self, sock: socket.socket) -> Any:
        import asyncio

        import uvicorn

        outer = self

        class _Server(uvicorn.Server):
            _tick: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

            def handle_exit(self, sig: int, frame: Any) -> None:
                outer._ending()  # the drive first: a Ctrl-C stops the stage at once
                super().handle_exit(sig, frame)
                self.wake()

            def wake(self) -> None:
                """End the wait for the next tick now (from any thread or a signal handler)."""
                if self._tick is not None:
                    loop, event = self._tick
                    try:
                        loop.call_soon_threadsafe(event.set)
                    except RuntimeError:  # the loop has closed
                        pass

            async def main_loop(self) -> None:
                # uvicorn's ticks (which look for an exit and renew the Date header once a second),
                # once a second instead of ten times: each tick wakes the loop (~0.1 ms of CPU on
                # this 2-core VM); an exit wakes it at once (wake)
                event = asyncio.Event()
                self._tick = (asyncio.get_running_loop(), event)
                counter = 0
                should_exit = await self.on_tick(counter)
                while not should_exit:
                    counter = (counter + 10) % 864000  # on_tick's once-a-second work: multiples of 10
                    try:
                        await asyncio.wait_for(event.wait(), _TICK_S)
                    except asyncio.TimeoutError:  # TimeoutError itself only from Python 3.11 on
                        pass
                    event.clear()
                    should_exit = await self.on_tick(counter)

        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
            ws="none",
        )
        self._uvicorn = _Server(config)
        return self._uvicorn

    def _ending(self) -> None:
        scope = self.scope
        if scope.drive is not None:
            scope.drive.stop()
        self.bus.close()
        self.jpeg.end()

    def run(self, sock: socket.socket) -> None:
        """Serve on ``sock`` in this (the main) thread until Ctrl-C; then call :meth:`close`.

        Uvicorn raises the Ctrl-C again (KeyboardInterrupt) once every connection is closed.
        """
        self.scope.start()
        self._server(sock).run(sockets=[sock])

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread; returns the URL once the server listens."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        h, p = sock.getsockname()[:2]
        self.url = f"http://{h}:{p}/"
        self.scope.start()
        server = self._server(sock)
        started = threading.Event()

        def body() -> None:
            try:
                server.run(sockets=[sock])
            finally:
                started.set()
                sock.close()

        self._thread = Worker(body, "focuscam-uvicorn")
        self._thread.start()
        while not started.wait(0.05):
            if server.started:
                break
        return self.url

    def stop(self) -> str:
        """Stop a server started with :meth:`start` and close everything."""
        self._ending()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
            self._uvicorn.wake()
        if self._thread is not None:
            self._thread.wait(15.0)
        return self.close()

    def close(self) -> str:
        """Close the engine (drive stopped, camera released) and the encoder; idempotent."""
        self._ending()
        scope = self.scope
        try:
            scope.close()
        finally:
            self.jpeg.close()
        where = "no drive"
        if scope.drive is not None:
            z = scope.final_z
            where = "drive stopped" + ("" if z is None else f" at z = {z:.6g} um")
        return f"{where}, camera released"
