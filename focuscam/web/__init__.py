"""``focuscam serve``: the web interface (a headless microscope in the browser).

- :mod:`focuscam.web.hub`: one source read once, for the live view, the monitor and the autofocus;
- :mod:`focuscam.web.control`: the adapter over :class:`focuscam.autofocus.Autofocus`;
- :mod:`focuscam.web.engine`: :class:`Microscope`, what every route calls;
- :mod:`focuscam.web.jobs`: :class:`DriveJobs`, autofocus, moves, the lock and STOP on the drive;
- :mod:`focuscam.web.state`: the engine as JSON (``GET /api/state``);
- :mod:`focuscam.web.stream`: MJPEG and the server-sent events;
- :mod:`focuscam.web.app`: the Starlette routes and the JSON API;
- :mod:`focuscam.web.server`: uvicorn, in the main thread or a background thread;
- ``static/``: the page (plain HTML, JavaScript and CSS; no build step, nothing from a CDN).

Needs the ``web`` extra (``pip install 'focuscam[web]'``: Starlette, uvicorn, PyYAML).
"""
