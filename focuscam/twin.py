"""The digital twin for replay: a recorded z-sweep plus a simulated focus drive.

:class:`TwinSource` is a frame source whose frames come from a z-sweep stack: a frame captured
at time ``t`` shows the recorded plane nearest to the drive's position at ``t`` (or, with
``blend=True``, a linear blend of the two nearest planes). Frames tick at ``fps`` on the drive's
clock (a :class:`~focuscam.drives.clock.VirtualClock` by default, so a whole closed loop runs at
full speed with realistic times). Like a camera, the twin keeps the last ``buffer`` frames
captured while nobody was reading: after a move those frames are stale (captured during the
move), so the controller must ask for :meth:`TwinSource.fresh_frame` captured after the move
and settle time -- exactly as with real hardware.

Units: positions are um. A stack's ``z`` becomes um by its ``z_unit``: ``mm`` x 1000, ``um``
x 1, and ``step``, ``index`` or no unit are taken as 1 um per unit (one plane of an index stack
is 1 um). :data:`Z_SCALE_UM` holds the factors.

:func:`make_twin` builds both halves: a :class:`~focuscam.drives.sim.SimulatedDrive` whose
limits are the stack's z range (um; widened by the backlash compensation so that overshoots
fit) and a twin source sharing its clock.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .errors import InputError, SourceError
from .search._plan import nearest_plane
from .sources.base import FrameSource
from .types import Frame, ZUnit

__all__ = ["Z_SCALE_UM", "TwinSource", "make_twin", "z_scale_um"]

#: stack ``z_unit`` -> um per unit.
Z_SCALE_UM: dict[str | None, float] = {"mm": 1000.0, "um": 1.0, "step": 1.0, "index": 1.0, None: 1.0}


def z_scale_um(z_unit: str | None) -> float:
    """um per unit of a stack's ``z_unit`` (see :data:`Z_SCALE_UM`)."""
    if z_unit not in Z_SCALE_UM:
        raise InputError(f"z_unit {z_unit!r} is unknown: use one of mm, um, step, index")
    return Z_SCALE_UM[z_unit]


def _as_stack(stack: Any):
    from .stacks import Stack, load_stack

    if isinstance(stack, str | os.PathLike):
        stack = load_stack(stack)
    if not isinstance(stack, Stack):
        raise InputError(f"stack {stack!r} is not a Stack or a path: give a stack folder")
    return stack


class TwinSource(FrameSource):
    """A frame source serving recorded planes at the simulated drive's position.

    Parameters
    ----------
    stack : Stack or path
        A ``z-sweep`` stack with a z for every frame and at least 2 distinct positions.
    drive : FocusDrive
        The drive whose position picks the plane (usually a SimulatedDrive); its ``clock``
        times the frames. With a SimulatedDrive the optics position (through its backlash dead
        band) is used for a frame captured now.
    fps : float
        Frame rate in frames per second of the drive's clock (default 30).
    buffer : int
        How many frames captured while nobody read are kept (default 2, like a camera queue).
    blend : bool
        Serve a linear blend of the two nearest planes instead of the nearest one.
    cache : dict, optional
        A dict to keep decoded planes in; pass the same dict to twins of the same stack to
        decode each plane once (default: a cache of this twin's own).
    optics : callable, optional
        ``optics(t) -> um``: where the optics really are at clock time ``t`` (e.g. the
        mechanical position of a drive peer on a pseudo-terminal). Default: the SimulatedDrive's
        optics position for a frame captured now, the drive's ``position_at(t)`` for older ones.
    drift : callable, optional
        ``drift(t) -> um``: a drifting sample. The plane seen at clock time ``t`` is the one at
        the drive's position plus ``drift(t)`` (plus the constant :attr:`drift_um`), so the true
        focus, in drive coordinates, is ``truth - drift(t)``: it moves with time.
    """

    def __init__(
        self,
        stack: Any,
        drive: Any,
        *,
        fps: float = 30.0,
        buffer: int = 2,
        blend: bool = False,
        cache: dict | None = None,
        optics: Any = None,
        drift: Any = None,
    ):
        stack = _as_stack(stack)
        if stack.kind != "z-sweep":
            raise InputError(
                f"stack {stack.name!r} is a {stack.kind!r}, not a z-sweep: the twin needs a z per plane"
            )
        z = np.asarray(stack.z, dtype=float)
        if z.size < 2 or not np.all(np.isfinite(z)):
            raise InputError(f"stack {stack.name!r} lacks a finite z for every frame: the twin needs them")
        if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
            raise InputError(f"fps {fps!r} must be a positive number of frames per second")
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise InputError(f"buffer {buffer!r} must be an integer >= 1 (frames)")
        if not callable(getattr(drive, "position_at", None)) or getattr(drive, "clock", None) is None:
            raise InputError("drive must be a focus drive with a clock and position_at(t)")
        self.stack = stack
        self.drive = drive
        self.clock = drive.clock
        self.name = f"twin {stack.name}"
        self._fps = float(fps)
        self.buffer = buffer
        self.blend = bool(blend)
        self.scale_um = z_scale_um(stack.z_unit)
        order = np.argsort(z, kind="stable")
        self._order = order
        self.planes_um = z[order] * self.scale_um
        if np.ptp(self.planes_um) <= 0:
            raise InputError(f"stack {stack.name!r} has a single z position: the twin needs a sweep")
        #: Focus drift of the sample in um (added to the drive's position), for focus-lock tests.
        self.drift_um = 0.0
        if optics is not None and not callable(optics):
            raise InputError("optics must be a callable t -> um (or None)")
        self._optics = optics
        if drift is not None and not callable(drift):
            raise InputError("drift must be a callable t -> um (or None)")
        self.drift = drift
        self._t0 = self.clock.now()
        self._next = 1  # index of the next frame tick not delivered yet
        self._seq = 0
        self._cache: dict[int, np.ndarray] = {} if cache is None else cache
        self._closed = False
        self._dropped = 0

    # ------------------------------------------------------------------ FrameSource properties
    @property
    def size(self) -> tuple[int, int]:
        """Frame size ``(width, height)`` in pixels."""
        img = self._plane(0)
        return int(img.shape[1]), int(img.shape[0])

    @property
    def fps(self) -> float:
        """Frame rate in frames per second of the drive's clock."""
        return self._fps

    @property
    def dropped(self) -> int:
        """Frames captured while nobody read that fell out of the buffer."""
        return self._dropped

    # ------------------------------------------------------------------ geometry
    @property
    def z_range_um(self) -> tuple[float, float]:
        """The lowest and highest plane position, in um."""
        return float(self.planes_um[0]), float(self.planes_um[-1])

    @property
    def distinct_planes_um(self) -> np.ndarray | None:
        """The positions (um, sorted) of the only distinct frames this twin shows, or None.

        A position between planes shows the nearest plane (ties the upper one:
        :func:`focuscam.search._plan.nearest_plane`), so two positions nearer the same plane
        give the very same frame; a search that knows the planes asks for each at most once.
        None when a frame is not a function of the drive's position alone: blended planes, a
        drifting sample (``drift``, a non-zero :attr:`drift_um`), an ``optics`` callable, or a
        drive with a mechanical dead band (the optics lag the drive's position).
        """
        if self.blend or self.drift is not None or self.drift_um != 0.0 or self._optics is not None:
            return None
        if float(getattr(self.drive, "mechanical_backlash_um", 0.0) or 0.0) != 0.0:
            return None
        return self.planes_um.copy()

    @property
    def spacing_um(self) -> float:
        """The median distance between neighbouring planes, in um."""
        d = np.diff(self.planes_um)
        d = d[d > 0]
        return float(np.median(d))

    def _plane(self, k: int) -> np.ndarray:
        img = self._cache.get(k)
        if img is None:
            img = self.stack.image(int(self._order[k]))
            self._cache[k] = img
        return img

    @property
    def z_unit(self) -> ZUnit:
        """The stack's own z unit, for display (positions stay um inside focuscam)."""
        return ZUnit(self.stack.z_unit or "index", self.scale_um)

    def drift_at(self, t: float) -> float:
        """How far (um) the sample has drifted at clock time ``t``: the plane seen is drive + this."""
        return self.drift_um + (float(self.drift(t)) if self.drift is not None else 0.0)

    def _optics_z(self, t: float) -> float:
        if self._optics is not None:
            return float(self._optics(t)) + self.drift_at(t)
        now = self.clock.now()
        if t >= now and hasattr(self.drive, "mechanical_position"):
            z = float(self.drive.mechanical_position)
        else:
            z = float(self.drive.position_at(t))
        return z + self.drift_at(t)

    def render(self, z_um: float) -> tuple[np.ndarray, int]:
        """The pixels seen at optics position ``z_um`` (um) and the index of the nearest plane."""
        p = self.planes_um
        j = int(np.searchsorted(p, z_um))
        if j <= 0:
            return self._plane(0), 0
        if j >= p.size:
            return self._plane(p.size - 1), p.size - 1
        lo, hi = j - 1, j
        w = (z_um - p[lo]) / (p[hi] - p[lo])
        nearest = int(nearest_plane(p, z_um))
        if not self.blend or w <= 0.0 or w >= 1.0:
            return self._plane(nearest), nearest
        a, b = self._plane(lo), self._plane(hi)
        mix = (1.0 - w) * a.astype(np.float32) + w * b.astype(np.float32)
        if a.dtype.kind in "ui":
            mix = np.clip(np.rint(mix), np.iinfo(a.dtype).min, np.iinfo(a.dtype).max)
        return mix.astype(a.dtype), nearest

    # ------------------------------------------------------------------ frames
    def _tick_time(self, k: int) -> float:
        return self._t0 + k / self._fps

    def _frame_at_tick(self, k: int) -> Frame:
        t = self._tick_time(k)
        z = self._optics_z(t)
        pixels, plane = self.render(z)
        meta = {"plane": plane, "stack": self.stack.name, "t_start": t}
        frame = Frame(pixels, t, self._seq, z=z, meta=meta)
        self._seq += 1
        return frame

    def _check_open(self) -> None:
        if self._closed:
            raise SourceError("the twin source is closed: create a new one")

    def read(self, timeout: float | None = None) -> Frame:
        """The next frame: the oldest one still buffered, else the next one captured.

        ``timeout`` is accepted for the source interface; the twin always has a next frame.
        """
        self._check_open()
        now = self.clock.now()
        latest = math.floor((now - self._t0) * self._fps + 1e-9)
        if self._next <= latest:
            # frames captured while nobody read: keep only the last `buffer` of them (stale!)
            oldest_kept = latest - self.buffer + 1
            if self._next < oldest_kept:
                self._dropped += oldest_kept - self._next
                self._next = oldest_kept
        else:
            self.clock.sleep(self._tick_time(self._next) - now)
        frame = self._frame_at_tick(self._next)
        self._next += 1
        return frame

    def fresh_frame(self, after: float, timeout: float | None = None) -> Frame:
        """The first frame captured after clock time ``after`` (s); older ones are skipped."""
        self._check_open()
        if isinstance(after, bool) or not isinstance(after, int | float) or not math.isfinite(after):
            raise InputError(f"after {after!r} must be a clock time in seconds (a finite number)")
        first = math.floor((after - self._t0) * self._fps + 1e-9) + 1
        self._next = max(self._next, first)
        return self.read(timeout)

    def frames_between(self, t0: float, t1: float) -> list[Frame]:
        """Every frame captured in ``[t0, t1]`` (s) -- what a streaming reader saw during a move.

        Frames before ``t1`` are marked as read.
        """
        self._check_open()
        k0 = max(self._next, math.ceil((t0 - self._t0) * self._fps - 1e-9))
        k1 = math.floor((t1 - self._t0) * self._fps + 1e-9)
        frames = [self._frame_at_tick(k) for k in range(k0, k1 + 1)]
        self._next = max(self._next, k1 + 1)
        return frames

    def close(self) -> None:
        """Close the twin (the plane cache is left to whoever shares it); idempotent."""
        self._closed = True

    def __enter__(self) -> TwinSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        lo, hi = self.z_range_um
        return f"<TwinSource {self.stack.name} {len(self.planes_um)} planes {lo:g}..{hi:g} um>"


def make_twin(
    stack: Any,
    *,
    start_um: float | None = None,
    sweep_s: float = 2.0,
    settle_s: float = 0.05,
    backlash_um: float = 0.0,
    mechanical_backlash_um: float = 0.0,
    fps: float = 30.0,
    buffer: int = 2,
    blend: bool = False,
    clock: Any = "virtual",
    cache: dict | None = None,
    resolution_um: float = 0.0,
    limits: Any = None,
    drift: Any = None,
):
    """Build a simulated drive over a stack's z range and a :class:`TwinSource` on it.

    Parameters
    ----------
    stack : Stack or path
        A z-sweep stack.
    start_um : float, optional
        Where the drive starts, in um (default the middle of the range).
    sweep_s : float
        Seconds the drive needs to cross the whole range at cruise speed (sets ``speed_um_s``;
        acceleration reaches that speed in a tenth of a second).
    settle_s : float
        Settle time after each move, in s.
    backlash_um, mechanical_backlash_um : float
        Backlash compensation and the modelled dead band, in um.
    fps : float
        Camera frame rate.
    buffer : int
        Frames the twin camera keeps while nobody reads (see :class:`TwinSource`).
    blend : bool
        Blend the two nearest planes (see :class:`TwinSource`).
    clock : "virtual" or "wall" or a clock
        The shared time base.
    cache : dict, optional
        Decoded-plane cache shared between twins of the same stack.
    resolution_um : float
        The simulated drive's step grid in um (0 = continuous; e.g. 5 for a UVC focus that
        moves in steps of 5, see :attr:`~focuscam.drives.base.FocusDrive.resolution_um`).
    limits : (float, float), optional
        The simulated drive's soft limits in um (default the stack's z range, widened by the
        backlash compensation); beyond the stack the twin shows its end planes.
    drift : callable, optional
        ``drift(t) -> um``: a drifting sample (see :class:`TwinSource`).

    Returns
    -------
    (TwinSource, SimulatedDrive)
    """
    from .drives.sim import SimulatedDrive

    stack = _as_stack(stack)
    scale = z_scale_um(stack.z_unit)
    z = np.asarray(stack.z, dtype=float) * scale
    if z.size < 2 or not np.all(np.isfinite(z)) or np.ptp(z) <= 0:
        raise InputError(f"stack {stack.name!r} is not a z-sweep with a finite z per frame")
    lo, hi = float(z.min()), float(z.max())
    if not (isinstance(sweep_s, int | float) and math.isfinite(sweep_s) and sweep_s > 0):
        raise InputError(f"sweep_s {sweep_s!r} must be a positive number of seconds")
    speed = (hi - lo) / sweep_s
    # the limits leave room for the backlash overshoot, so the whole stack can be searched
    margin = float(backlash_um) if isinstance(backlash_um, int | float) else 0.0
    if limits is None:
        limits = (lo - max(margin, 0.0), hi + max(margin, 0.0))
    drive = SimulatedDrive(
        limits=limits,
        resolution_um=resolution_um,
        backlash_um=backlash_um,
        mechanical_backlash_um=mechanical_backlash_um,
        speed_um_s=speed,
        accel_um_s2=speed * 10.0,
        settle_s=settle_s,
        start_um=0.5 * (lo + hi) if start_um is None else start_um,
        clock=clock,
    )
    twin = TwinSource(stack, drive, fps=fps, buffer=buffer, blend=blend, cache=cache, drift=drift)
    return twin, drive
