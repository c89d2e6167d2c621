"""Synthetic focus stacks: a procedural scene seen through a defocusing lens, with sensor noise.

The scene (a resolution-target-like chart, or cell-like blobs) is rendered once, sharp, as a
radiance map in [0, 1]. Each plane at focus position ``z`` (um) is that scene convolved with a
defocus point-spread function whose radius grows linearly with ``|z - z_focus|``
(``blur_per_um`` pixels per um, plus a small in-focus blur), a mix of a pillbox (geometric
defocus of a circular aperture) and a Gaussian (aberrations, diffraction). Sensor noise is then
added in photo-electrons: Poisson shot noise of ``photons`` electrons at full-scale white and
Gaussian read noise of ``read_noise`` electrons, then converted to 8-bit colour or 16-bit gray
digital numbers (an offset keeps the 16-bit dark level above zero). Everything is drawn from one
``numpy`` generator seeded with ``seed``, so a stack is reproducible bit for bit.

:func:`iter_planes` yields the frames one by one, :func:`render_planes` returns them all;
:func:`synth_stack` writes them as they are rendered (memory bounded by a few frames) as a
"focuscam-stack/1" folder whose stack.json records the generating command and the true focus.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._scenes import KINDS, make_scene
from .errors import InputError

__all__ = ["KINDS", "SynthParams", "defocus_psf", "iter_planes", "make_scene", "render_planes", "synth_stack"]


@dataclass(frozen=True)
class SynthParams:
    """Everything that defines a synthetic stack (all z in um, sizes in pixels).

    Attributes
    ----------
    kind : str
        ``"target"`` (resolution chart) or ``"cells"`` (cell-like blobs).
    color : bool
        True: 8-bit BGR frames; False: 16-bit gray frames.
    planes : int
        Number of focus planes (>= 3).
    width, height : int
        Frame size in pixels (>= 32 each).
    seed : int
        Seed of the random generator (scene layout and noise).
    z_step : float
        Distance between planes in um (> 0).
    z_focus : float or None
        True focus in um; None draws one from the seed within the middle half of the range.
    blur_per_um : float
        Defocus blur radius growth in pixels per um of defocus (> 0).
    photons : float
        Photo-electrons at full-scale white (shot noise; > 0).
    read_noise : float
        Read noise in electrons (>= 0).
    coverage : float
        Fraction of the field that holds the scene, in (0, 1] (default 1): below 1 the scene
        shows only inside a few small discs (a sparse field with a few small features) and is
        flat elsewhere. Python API only (not a ``focuscam synth`` flag).
    background : float
        Uniform background radiance as a fraction of white, in [0, 1) (default 0): the scene is
        compressed into ``background .. 1`` (strong background, e.g. out-of-focus glow in
        fluorescence). Python API only.
    """

    kind: str = "target"
    color: bool = True
    planes: int = 41
    width: int = 640
    height: int = 480
    seed: int = 0
    z_step: float = 1.0
    z_focus: float | None = None
    blur_per_um: float = 0.6
    photons: float = 4000.0
    read_noise: float = 3.0
    coverage: float = 1.0
    background: float = 0.0

    def validate(self) -> None:
        """Raise InputError naming the first bad parameter and the fix."""
        if self.kind not in KINDS:
            raise InputError(f"kind {self.kind!r} is unknown: use 'target' or 'cells'")
        if not isinstance(self.planes, int) or self.planes < 3:
            raise InputError(f"planes {self.planes!r} must be an integer >= 3")
        if self.planes > 2000:
            raise InputError(f"planes {self.planes} is more than 2000: make a smaller stack")
        if self.width < 32 or self.height < 32 or self.width * self.height > 40_000_000:
            raise InputError(
                f"size {self.width}x{self.height} must be at least 32x32 and at most 40 megapixels"
            )
        for name in ("z_step", "blur_per_um", "photons"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{name} {value!r} must be a positive number")
        if not (math.isfinite(self.read_noise) and self.read_noise >= 0):
            raise InputError(f"read_noise {self.read_noise!r} must be a number >= 0")
        if not (math.isfinite(self.coverage) and 0 < self.coverage <= 1):
            raise InputError(f"coverage {self.coverage!r} must be a fraction in (0, 1]")
        if not (math.isfinite(self.background) and 0 <= self.background < 1):
            raise InputError(f"background {self.background!r} must be a fraction in [0, 1)")
        if self.z_focus is not None and not math.isfinite(self.z_focus):
            raise InputError(f"z_focus {self.z_focus!r} must be a finite number of um")

    def z_positions(self) -> np.ndarray:
        """Plane positions in um, centred on 0."""
        return (np.arange(self.planes) - (self.planes - 1) / 2.0) * self.z_step

    def true_focus(self) -> float:
        """The true focus in um (``z_focus``, or one drawn from the seed in the middle half)."""
        if self.z_focus is not None:
            return float(self.z_focus)
        half_range = (self.planes - 1) * self.z_step / 2.0
        rng = np.random.default_rng([self.seed, 7])
        return round(float(rng.uniform(-0.5, 0.5) * half_range), 3)

    def command(self, out: str | os.PathLike[str]) -> str:
        """The ``focuscam synth`` command line that regenerates this stack into ``out``."""
        parts = [
            "focuscam",
            "synth",
            "--out",
            str(out),
            "--kind",
            self.kind,
            "--color" if self.color else "--gray16",
            "--planes",
            str(self.planes),
            "--size",
            f"{self.width}x{self.height}",
            "--seed",
            str(self.seed),
            "--z-step",
            f"{self.z_step:g}",
            "--z-focus",
            f"{self.true_focus():g}",
            "--blur-per-um",
            f"{self.blur_per_um:g}",
            "--photons",
            f"{self.photons:g}",
            "--read-noise",
            f"{self.read_noise:g}",
        ]
        return shlex.join(parts)


def defocus_psf(radius_px: float) -> np.ndarray:
    """The defocus point-spread function of blur radius ``radius_px`` (pixels), summing to 1.

    A 70/30 mix of a pillbox of that radius (geometric defocus of a circular aperture, edges
    anti-aliased by supersampling) and a Gaussian of sigma ``radius_px / 2``. Radii below 0.5
    px give a (nearly) identity kernel.
    """
    if not (math.isfinite(radius_px) and radius_px >= 0):
        raise InputError(f"radius_px {radius_px!r} must be a number >= 0")
    r = float(radius_px)
    half = max(1, math.ceil(r + 2))
    ss = 4  # supersampling of the pillbox edge
    u = (np.arange(-half * ss, (half + 1) * ss) + 0.5 - ss / 2) / ss
    uu, vv = np.meshgrid(u, u)
    disk = (uu**2 + vv**2 <= max(r, 0.5) ** 2).astype(np.float64)
    disk = disk.reshape(2 * half + 1, ss, 2 * half + 1, ss).mean(axis=(1, 3))
    g = np.arange(-half, half + 1, dtype=np.float64)
    sigma = max(r / 2.0, 0.35)
    gauss = np.exp(-0.5 * (g[:, None] ** 2 + g[None, :] ** 2) / sigma**2)
    psf = 0.7 * disk / disk.sum() + 0.3 * gauss / gauss.sum()
    return (psf / psf.sum()).astype(np.float32)


def _to_counts(radiance: np.ndarray, p: SynthParams, rng: np.random.Generator) -> np.ndarray:
    """Shot noise (and read noise) on ``radiance`` (0..1), in digital numbers: uint8 for colour
    (white at 255), else uint16 (white at ~3/4 of the range over a dark offset of 100 DN)."""
    from ._synth_kernels import digital_numbers

    electrons = rng.poisson(np.clip(radiance, 0, None) * p.photons)
    if p.read_noise > 0:
        electrons = electrons.astype(np.float64)
        electrons += rng.normal(0.0, p.read_noise, electrons.shape)
    electrons = np.ascontiguousarray(electrons)
    if p.color:
        out = np.empty(electrons.shape, np.uint8)
        digital_numbers(electrons, 0.0, 255.0 / p.photons, 255.0, out)
        return out
    out = np.empty(electrons.shape, np.uint16)
    digital_numbers(electrons, 100.0, 48000.0 / p.photons, 65535.0, out)
    return out


def _sparse_and_background(scene: np.ndarray, p: SynthParams) -> np.ndarray:
    """Keep the scene only inside a few small discs covering ``coverage`` of the field (flat at
    its mean elsewhere), then lift it onto a uniform ``background``."""
    if p.coverage < 1.0:
        h, w = scene.shape[:2]
        rng = np.random.default_rng([p.seed, 3])
        radius = max(3.0, 0.04 * min(h, w))
        count = max(1, round(p.coverage * h * w / (math.pi * radius**2)))
        yy, xx = np.mgrid[0:h, 0:w]
        mask = np.zeros((h, w), dtype=bool)
        for cy, cx in zip(rng.uniform(0, h, count), rng.uniform(0, w, count), strict=True):
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        flat = scene.mean(axis=(0, 1), keepdims=True)
        m = mask[..., None] if scene.ndim == 3 else mask
        scene = np.where(m, scene, flat).astype(scene.dtype)
    if p.background > 0:
        scene = (p.background + (1.0 - p.background) * scene).astype(scene.dtype)
    return scene


def iter_planes(params: SynthParams) -> Iterator[np.ndarray]:
    """The planes of a synthetic stack one at a time, in z order (memory: a few frames).

    Yields ``(H, W, 3)`` uint8 BGR frames when ``color``, else ``(H, W)`` uint16; the z
    positions are ``params.z_positions()`` and the true focus ``params.true_focus()`` (um).
    """
    params.validate()
    return _noisy(_blurred(params), params)


def _blurred(params: SynthParams) -> Iterator[np.ndarray]:
    """The noise-free planes (float32 radiance, ``(H, W, C)``), in z order."""
    import cv2

    scene = make_scene(params.kind, params.width, params.height, color=params.color, seed=params.seed)
    scene = _sparse_and_background(scene, params)
    z_focus = params.true_focus()
    for zk in params.z_positions():
        radius = params.blur_per_um * abs(zk - z_focus)
        blurred = cv2.filter2D(scene, -1, defocus_psf(radius), borderType=cv2.BORDER_REFLECT)
        yield blurred if blurred.ndim == 3 else blurred[..., None]


def _noisy(blurred: Iterator[np.ndarray], params: SynthParams) -> Iterator[np.ndarray]:
    """The ``blurred`` planes with their noise, from the stack's one random stream (in order)."""
    rng = np.random.default_rng([params.seed, 2])
    for plane in blurred:
        counts = _to_counts(plane, params, rng)
        yield counts if params.color else counts[..., 0]


def render_planes(
    params: SynthParams, on_plane: Callable[[int, int], None] | None = None
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Render every plane of a synthetic stack; ``on_plane(done, total)`` after each (progress).

    Returns
    -------
    frames : list of ndarray
        ``planes`` frames: ``(H, W, 3)`` uint8 BGR when ``color``, else ``(H, W)`` uint16.
    z : ndarray
        Plane positions in um.
    z_focus : float
        The true focus in um.
    """
    frames = list(_counted(iter_planes(params), params.planes, on_plane))
    return frames, params.z_positions(), params.true_focus()


def _ahead(planes: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """``planes``, rendered on a background thread at most ``depth`` frames ahead of the
    consumer (who encodes and writes them): the two overlap on two cores (OpenCV's blur and PNG
    encoder release the GIL). An error of the renderer is raised here; when the consumer stops
    early (an error, Ctrl-C) the renderer stops after its current frame and is waited for."""
    import queue
    import threading

    from ._threads import Worker

    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def render() -> None:
        try:
            for frame in planes:
                if not put(frame):
                    return
            put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = Worker(render, "focuscam-synth-render")
    worker.start()
    try:
        while True:
            try:
                item = out.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while not worker.wait(0.1):
            pass


def _counted(planes: Iterator[np.ndarray], total: int, on_plane) -> Iterator[np.ndarray]:
    for k, frame in enumerate(planes, 1):
        yield frame
        if on_plane is not None:
            on_plane(k, total)


def synth_stack(
    out: str | os.PathLike[str],
    params: SynthParams,
    *,
    name: str | None = None,
    on_plane: Callable[[int, int], None] | None = None,
) -> Path:
    """Render a synthetic stack and write it (atomically) as a "focuscam-stack/1" folder.

    ``on_plane(done, total)`` is called after each plane is rendered (e.g. a progress bar).

    stack.json gets ``truth`` ``{"z": z_focus, "tolerance": z_step, "basis": "synthetic: ..."}``
    in um and ``generator`` ``{"command": "focuscam synth ...", "version": ..., "params": {...}}``.

    Returns
    -------
    Path
        The stack folder.
    """
    from . import __version__
    from .stacks import save_stack

    params.validate()
    z, z_focus = params.z_positions(), params.true_focus()
    # written as rendered: memory holds a few frames, whatever the number of planes; the blur,
    # the noise (one random stream, in order) and the PNG encoder each run on a thread of their
    # own (OpenCV, numpy's generator and the noise kernel release the GIL), so that two cores
    # share them
    frames = _counted(_ahead(_noisy(_ahead(_blurred(params), depth=1), params)), params.planes, on_plane)
    out = Path(out)
    kind_text = "resolution-target-like chart" if params.kind == "target" else "cell-like blobs"
    colour_text = "8-bit colour" if params.color else "16-bit gray"
    description = (
        f"Synthetic {kind_text}, {colour_text} {params.width}x{params.height}, {params.planes} planes "
        f"{params.z_step:g} um apart; defocus PSF (pillbox + Gaussian) radius {params.blur_per_um:g} px "
        f"per um of defocus; Poisson shot noise ({params.photons:g} e- at white) and "
        f"{params.read_noise:g} e- read noise."
    )
    recorded = asdict(params)
    recorded["z_focus"] = z_focus
    return save_stack(
        out,
        frames,
        z,
        z_unit="um",
        kind="z-sweep",
        name=name or out.name,
        truth={
            "z": z_focus,
            "tolerance": params.z_step,
            "basis": f"synthetic: generated in focus at z={z_focus:g} um (tolerance one plane step)",
        },
        description=description,
        extra={
            "generator": {"command": params.command(out), "version": __version__, "params": recorded},
            "license": "MIT (generated by focuscam)",
        },
    )
