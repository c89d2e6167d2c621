"""The twin of :mod:`focuscam.testing`: a stack as a (source, drive) pair, with noise and drift."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError
from ..twin import TwinSource, make_twin, z_scale_um

__all__ = ["Noise", "Twin", "twin"]


@dataclass(frozen=True)
class Noise:
    """Per-frame sensor noise added to every served frame (on top of the recording's own).

    Attributes
    ----------
    read_sigma : float
        Standard deviation of Gaussian read noise, in digital numbers (grey levels), >= 0.
    photons : float or None
        Photo-electrons at full scale: when given, each pixel is redrawn from a Poisson
        distribution of ``pixel / full_scale * photons`` electrons (shot noise), > 0.
    """

    read_sigma: float = 2.0
    photons: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.read_sigma, int | float) and math.isfinite(self.read_sigma)):
            raise InputError(f"read_sigma {self.read_sigma!r} must be a finite number of grey levels")
        if self.read_sigma < 0:
            raise InputError(f"read_sigma {self.read_sigma!r} is negative: give 0 or more grey levels")
        if self.photons is not None and not (
            isinstance(self.photons, int | float) and math.isfinite(self.photons) and self.photons > 0
        ):
            raise InputError(f"photons {self.photons!r} must be a positive number of electrons (or None)")

    def apply(self, pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A noisy copy of ``pixels`` (same shape and dtype; integers clipped to their range)."""
        if pixels.dtype.kind in "ui":
            full = float(np.iinfo(pixels.dtype).max)
        else:
            full = 1.0
        out = pixels.astype(np.float64)
        if self.photons is not None:
            gain = self.photons / full
            out = rng.poisson(np.clip(out, 0, None) * gain) / gain
        if self.read_sigma > 0:
            out = out + rng.normal(0.0, self.read_sigma, size=out.shape)
        if pixels.dtype.kind in "ui":
            info = np.iinfo(pixels.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return out.astype(pixels.dtype)


class _TestTwinSource(TwinSource):
    """A :class:`~focuscam.twin.TwinSource` with seeded per-frame noise and a drifting sample."""

    def __init__(self, stack: Any, drive: Any, *, noise: Noise | None, drift_um_s: float, seed, **kw):
        super().__init__(stack, drive, **kw)
        self.noise = noise
        self.drift_um_s = drift_um_s
        self._seed = np.random.SeedSequence(seed)

    def _optics_z(self, t: float) -> float:
        # a sample drifting by +d um looks like optics d um further up
        return super()._optics_z(t) + self.drift_um_s * (t - self._t0)

    def _frame_at_tick(self, k: int):
        frame = super()._frame_at_tick(k)
        if self.noise is None:
            return frame
        # one generator per frame tick: the same frame always gets the same noise
        rng = np.random.default_rng(np.random.SeedSequence(self._seed.entropy, spawn_key=(k,)))
        return dataclasses.replace(frame, pixels=self.noise.apply(frame.pixels, rng))


class Twin(NamedTuple):
    """A ``(source, drive)`` pair over a stack; unpacks as ``source, drive = twin(...)``."""

    source: Any
    drive: Any

    @property
    def stack(self):
        """The :class:`~focuscam.stacks.Stack` being replayed."""
        return self.source.stack

    @property
    def truth_um(self) -> float | None:
        """The stack's true focus in um (drive coordinates at zero drift), or None."""
        truth = self.stack.truth
        if not truth:
            return None
        return float(truth["z"]) * z_scale_um(self.stack.z_unit)

    @property
    def tolerance_um(self) -> float | None:
        """The tolerance of :attr:`truth_um`, in um, or None."""
        truth = self.stack.truth
        if not truth:
            return None
        return float(truth["tolerance"]) * z_scale_um(self.stack.z_unit)

    @property
    def mode(self) -> str:
        """``"brightfield"`` when the stack says so (focus = contrast minimum), else ``"max"``."""
        return "brightfield" if self.stack.modality == "brightfield" else "max"


def _number(value: Any, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{name} {value!r} must be a finite number of {unit}")
    return float(value)


def twin(
    stack: Any,
    *,
    start_um: float | None = None,
    backlash_um: float = 0.0,
    noise: Noise | float | None = None,
    drift_um_s: float = 0.0,
    seed: int | None = None,
    drive: Any = None,
    **options: Any,
) -> Twin:
    """A digital twin of ``stack``: a simulated drive and a frame source on one virtual clock.

    Parameters
    ----------
    stack : Stack or path
        A z-sweep stack (a "focuscam-stack/1" folder, an image folder, a TIFF, ...).
    start_um : float, optional
        Where the drive starts, in um (default the middle of the stack's range).
    backlash_um : float
        Mechanical backlash of the simulated drive in um, and its compensation (>= 0).
    noise : Noise or float, optional
        Per-frame sensor noise; a float is the read-noise sigma in grey levels.
    drift_um_s : float
        Sample drift in um per second of the virtual clock: the drive position that shows the
        recorded plane ``z`` is ``z - drift_um_s * t``.
    seed : int, optional
        Seed of the noise (the same seed gives the same frames); None draws one.
    drive : FocusDrive, optional
        Use this drive (e.g. a :func:`~focuscam.testing.recording_drive`) instead of a new
        simulated one; its clock times the frames. ``start_um`` and ``backlash_um`` then do not
        apply.
    **options
        Passed to :func:`focuscam.twin.make_twin` (``sweep_s``, ``settle_s``, ``fps``,
        ``buffer``, ``blend``).

    Returns
    -------
    Twin
        ``(source, drive)``; also ``.stack``, ``.truth_um``, ``.tolerance_um``, ``.mode``.
    """
    backlash = _number(backlash_um, "backlash_um", "um")
    if backlash < 0:
        raise InputError(f"backlash_um {backlash_um!r} is negative: give 0 or more um")
    drift = _number(drift_um_s, "drift_um_s", "um per second")
    if isinstance(noise, int | float) and not isinstance(noise, bool):
        noise = Noise(read_sigma=float(noise))
    if noise is not None and not isinstance(noise, Noise):
        raise InputError(f"noise {noise!r} is not a Noise or a read-noise sigma: e.g. noise=2.0")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError(f"seed {seed!r} must be an integer >= 0 (or None)")
    if drive is None:
        src, drive = make_twin(
            stack, start_um=start_um, backlash_um=backlash, mechanical_backlash_um=backlash, **options
        )
    else:
        fps = options.pop("fps", 30.0)
        src = TwinSource(stack, drive, fps=fps, **options)
    source = _TestTwinSource(
        src.stack,
        drive,
        noise=noise,
        drift_um_s=drift,
        seed=seed,
        fps=src.fps,
        buffer=src.buffer,
        blend=src.blend,
    )
    return Twin(source, drive)
