"""``focuscam serve``: a headless microscope in the browser (the live view, autofocus, lock, jog)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import TYPE_CHECKING, Any

from ._args import add_rig_argument

if TYPE_CHECKING:
    import socket

EPILOG = """\
examples:
  focuscam serve --source replay:../shared/stacks/fpd_webcam_rep1 --drive sim
  focuscam serve --rig rig.toml --port 0
  focuscam serve --source camera:0 --drive grbl:/dev/ttyUSB0 --limits -500,500 --host 0.0.0.0

The first line printed is the page's URL (with --port 0: the port the system gave). The
server binds to 127.0.0.1 by default; binding to another address needs --token TOKEN, or a
token is generated and printed once in that URL: every request must carry it. Ctrl-C stops
the drive, releases the camera and exits with code 130. replay:STACK with --drive sim serves
the digital twin in real time. See the README section "Web interface" for the page and the API.
"""


def register(subparsers: Any) -> None:
    from ._args import FPS, JOG_UM, LIMITS_UM, PORT, grid_type, limits_type, measure_names, roi_type

    parser = subparsers.add_parser(
        "serve",
        help="serve the live view, autofocus and drive controls as a web page and a JSON API",
        description="A headless microscope in the browser: the live view with the ROI and the "
        "focus map, the score and focus curve, autofocus, lock, jog, STOP, snapshots and "
        "recording, for any number of watching browsers (one controls at a time).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--source", metavar="SPEC", help="camera:0, replay:STACK, video:FILE (or in --rig)")
    parser.add_argument(
        "--drive", metavar="SPEC", help="sim, grbl:PORT, ... (optional: without it, watch only)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=PORT, default=8000, help=f"port ({PORT.bounds}; default 8000; 0 = any free port)"
    )
    parser.add_argument("--token", metavar="TOKEN", help="required with a --host other than loopback")
    parser.add_argument(
        "--limits",
        type=limits_type,
        metavar="MIN,MAX",
        help=f"soft limits of a real drive ({LIMITS_UM.bounds})",
    )
    parser.add_argument(
        "--measure",
        metavar="NAME",
        help=f"focus measure at start: auto or {', '.join(measure_names())} (default auto: the live "
        "score is lapv, glvn in brightfield, and autofocus goes on with teng and glvn when lapv finds "
        "no significant peak, until a measure is chosen on the page)",
    )
    parser.add_argument("--roi", type=roi_type, metavar="x,y,w,h", help="region scored at start")
    parser.add_argument("--grid", type=grid_type, metavar="RxC", help="focus-map grid at start")
    parser.add_argument(
        "--jog",
        type=JOG_UM,
        metavar="UM",
        help=f"jog step ({JOG_UM.bounds}; default: a plane on the twin, else 10)",
    )
    parser.add_argument("--out", default=".", metavar="DIR", help="where snapshots and recordings go")
    parser.add_argument("--fps", type=FPS, metavar="F", help=f"replay sources: frames/s ({FPS.bounds})")
    parser.add_argument("--loop", action="store_true", help="replay sources: start again at the end")
    add_rig_argument(parser)
    parser.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    import socket

    from ..errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InputError(f"--host {host!r} is not an address here ({exc.strerror}): e.g. 127.0.0.1") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port (0 = any free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _open(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """(source, drive or None, twin or None, mode)."""
    from ..drives import open_drive
    from ..errors import InputError
    from ..sources import open_source
    from .record import source_options

    scheme = args.source.partition(":")[0].lower()
    if args.drive is not None and scheme == "replay" and args.drive.strip().lower() == "sim":
        from ..twin import make_twin

        path = args.source.partition(":")[2]
        if not path:
            raise InputError("--source replay: names no stack: give replay:STACK_DIR")
        src, drive = make_twin(path, clock="wall")
        mode = "brightfield" if (src.stack.modality or "").lower() == "brightfield" else "max"
        return src, drive, src, mode
    drive = None
    if args.drive is not None:
        rig = getattr(args, "rig_config", None)
        settings: dict[str, Any] = dict(rig.drive.settings()) if rig is not None else {}
        if args.limits is not None:  # a ZLimits: the flag's, or the rig's merged into it
            settings["limits"] = (args.limits.lo, args.limits.hi)
        drive = open_drive(args.drive, **settings)
    try:
        src = open_source(args.source, **source_options(args))
    except BaseException:
        if drive is not None:
            drive.close()
        raise
    return src, drive, None, "max"


def _require_web() -> None:
    import importlib.util

    from ..errors import InputError

    missing = [m for m in ("starlette", "uvicorn", "yaml") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(
            f"focuscam serve needs {', '.join(missing)}: install the web extra, pip install 'focuscam[web]'"
        )


def run(args: argparse.Namespace) -> int:
    from .._measure_choice import AUTO
    from ..errors import InputError
    from ..rig import apply_rig
    from .record import require_source

    token = args.token
    if token is not None and not token.strip():
        raise InputError("--token is empty: give a secret word, or leave --token out to get one generated")
    args = apply_rig(args)
    require_source(args)
    _require_web()
    if token is None and not _is_loopback(args.host):
        import secrets

        token = secrets.token_urlsafe(16)
    sock = _bind(args.host, args.port)
    try:
        from ..web.server import WebServer

        src, drive, twin, mode = _open(args)
        server = WebServer(
            src,
            drive,
            twin=twin,
            mode=mode,
            measure=args.measure or AUTO,
            roi=args.roi,
            grid=args.grid,
            jog_um=args.jog or (twin.spacing_um if twin is not None else 10.0),
            out_dir=args.out,
            token=token,
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/" + (f"?token={token}" if token is not None else "")
        print(url, flush=True)
        try:
            server.run(sock)
        finally:
            print(f"serve: stopped; {server.close()}", file=sys.stderr, flush=True)
    finally:
        sock.close()
    return 0
