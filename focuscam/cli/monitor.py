"""``focuscam monitor``: score the sharpness of every frame of a source, live."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import sys
import time

from ._args import add_rig_argument, add_source_arguments, grid_type, measure_names, roi_type
from ._json import versioned

NAME = "monitor"

EPILOG = """\
source specs:
  camera:0  camera:/dev/video2  camera:rtsp://...  video:FILE  replay:STACK_DIR
  (a bare index or path works too)

examples:
  focuscam monitor --source camera:0 --no-window
  focuscam monitor --source camera:0 --roi 400,300,320,240 --grid 3x3 --json > scores.ndjson
  focuscam monitor --source replay:../shared/stacks/scorpion_lapse --json --no-window

--json prints one JSON object per frame (ndjson): t, seq, score, measure, blurred, per,
blur_extent, blur_seq, measure_ms, fps, dropped, z, late, and focus_map with --grid. Without --json
a status line (score, fps, measure ms, dropped frames) is updated in place on a terminal.
A video or replay ends the monitor (exit 0), unless it ends before --frames or --seconds
(exit 3). The blur verdict is computed at most 5 times a second on its own thread (--blur async):
blurred, per and blur_extent then belong to frame blur_seq, which may be older than seq (the
window and the status line name that frame too). The last frame of --frames N carries its own
verdict; when the source ends first (or --seconds passes), the last frame's own verdict is
printed as one more line for that frame, with "late": true.
--blur sync computes it for every frame, so every line carries its own frame's verdict
(blur_seq = seq).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="score the sharpness of every frame of a camera, video or replay",
        description="Score every frame of a source with a focus measure on a worker thread beside "
        "the grab thread, with a blur verdict and optionally a focus map.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    limits = parser.add_argument_group("limits (default: until the source ends or Ctrl-C)")
    add_source_arguments(parser, limits)
    parser.add_argument(
        "--measure",
        metavar="NAME",
        help=f"focus measure: {', '.join(measure_names())} (default lapv)",
    )
    parser.add_argument(
        "--roi", type=roi_type, metavar="x,y,w,h", help="region scored (default: whole frame)"
    )
    parser.add_argument("--grid", type=grid_type, metavar="RxC", help="also report a focus map on this grid")
    parser.add_argument("--json", action="store_true", help="print one JSON object per frame (ndjson)")
    parser.add_argument("--no-window", action="store_true", help="headless: no live window")
    parser.add_argument(
        "--blur",
        choices=("async", "sync", "off"),
        default="async",
        help="blur verdict: async (<= 5/s on its own thread, default), sync (every frame), off",
    )
    add_rig_argument(parser)
    parser.set_defaults(func=run)


def _window_hook():
    """The window UI's entry point ``focuscam.ui.monitor_window(monitor, args) -> int``, or None."""
    if importlib.util.find_spec("focuscam.ui") is None:
        return None
    return getattr(importlib.import_module("focuscam.ui"), "monitor_window", None)


class _StatusLine:
    """One status line on a terminal (stderr), rewritten in place with ``\\r`` (throttled)."""

    def __init__(self, stream, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self.last = -math.inf
        self.drawn = False
        self.pending = None

    def __call__(self, sample) -> None:
        self.pending = sample
        now = time.monotonic()
        if now - self.last < self.interval and not sample.late:
            return
        self.last = now
        self._draw(sample)

    def _draw(self, sample) -> None:
        self.pending = None
        blur = sample.blur
        verdict = ""
        if blur is not None:  # the verdict names its own frame (async: an older one)
            verdict = f"  (frame {sample.blur_seq}: {'blurred' if blur['is_blurred'] else 'sharp'})"
        self.stream.write(
            f"\r\x1b[K{sample.measure} {sample.score:12.4g}  {sample.fps:6.1f} fps  "
            f"{sample.measure_ms:6.2f} ms  dropped {sample.dropped}  frame {sample.seq}{verdict}"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.pending is not None:  # the last sample, if the throttle held it back
            self._draw(self.pending)
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def blur_summary(monitor) -> str:
    """What the run's blur verdicts covered, for the closing line (empty with --blur off)."""
    if monitor.blur_mode == "off" or monitor.count == 0:
        return ""
    text = f"; blur verdicts for {monitor.verdicts} of {monitor.count} frames ({monitor.blur_mode}"
    if monitor.blur_mode == "async":
        text += f", at most {monitor.blur_rate:g}/s; the others carry an older frame's, named by blur_seq"
    return text + ")"


def run(args: argparse.Namespace) -> int:
    from ..monitor import Monitor
    from ..rig import apply_rig
    from ..sources import open_source
    from .record import require_source, source_options

    args = apply_rig(args)
    require_source(args)
    from .._measure_choice import AUTO

    if args.measure is None or args.measure == AUTO:  # a rig's [autofocus] measure = "auto"
        args.measure = "lapv"

    hook = None
    if not args.no_window:
        hook = _window_hook()
        if hook is None:
            print("focuscam: no window UI is available yet; running headless", file=sys.stderr)
    source = open_source(args.source, **source_options(args))
    monitor = Monitor(
        source,
        measure=args.measure,
        roi=args.roi,
        grid=args.grid,
        blur=args.blur,
        frames=args.frames,
        seconds=args.seconds,
    )
    status = None
    if args.json:
        out = sys.stdout

        def emit(sample) -> None:
            out.write(json.dumps(versioned(sample.to_dict())) + "\n")
            out.flush()

        monitor.subscribe(emit)
    elif sys.stderr.isatty():
        status = _StatusLine(sys.stderr)
        monitor.subscribe(status)
    try:
        if hook is not None:
            code = int(hook(monitor, args) or 0)
        else:
            monitor.start()
            while not monitor.wait(0.2):
                pass
            code = 0
    finally:
        monitor.stop()
        if status is not None:
            status.close()
    if monitor.reason == "ended" and (args.frames is not None or args.seconds is not None):
        from ..errors import SourceError

        asked = f"{args.frames} frames" if args.frames is not None else f"{args.seconds:g} s"
        raise SourceError(f"{source.name} ended after {monitor.count} frames, before the {asked} asked")
    if not args.json:
        print(
            f"monitor: {monitor.count} frames scored, {source.dropped} dropped{blur_summary(monitor)}",
            file=sys.stderr,
        )
    return code
