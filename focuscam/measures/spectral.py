"""Spectral focus measure: ``fftb``, the energy of a mid-frequency band of the 2-D spectrum.

The gray region (block sums with ``bin > 1``) is loaded by a numba kernel
(:func:`focuscam.measures._kernels_freq.gray_region`, the same fused BGR->gray as every measure);
the transform is ``numpy.fft.rfft2`` in float64 (a streaming numba kernel cannot beat a tuned
FFT here, and the FFT needs a whole block at once). Memory is bounded whatever the ROI: a region
with a side longer than :data:`BLOCK` pixels is cut into near-equal blocks of at most
``BLOCK x BLOCK`` whose band energies are averaged, weighted by their pixels (Welch's method of
averaged periodograms); the buffers of one block (float64 gray, its half spectrum) take
about 24 bytes per pixel, some 25 MB, and are kept per thread for the next call. The band's
power is summed by a numba kernel (:func:`focuscam.measures._kernels_freq.band_power`) that
tests the band on integers as it goes, so no mask or power array is made.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from . import _doc
from ._run import compute

#: The band, in cycles per (binned) pixel of radial frequency: above 1/32 (illumination, the
#: window's own leakage) and up to 1/4 (half of Nyquist, where white pixel noise starts to
#: dominate natural images). Defocus attenuates every frequency of it, more the higher.
#: The band's edges as 1/N (an exact integer test decides which frequencies are inside it).
BAND_DIVISORS = (32, 4)
BAND = (1.0 / BAND_DIVISORS[0], 1.0 / BAND_DIVISORS[1])
#: The longest block side transformed at once (1024: the band's resolution is far finer than
#: its width of 1/32 cycles/pixel, and one block's temporaries stay near 25 MB).
BLOCK = 1024


def _hann(n: int) -> np.ndarray:
    """The symmetric Hann window of ``n`` points (``numpy.hanning``; [1.0] for one point)."""
    return np.hanning(n) if n > 1 else np.ones(1)


def band_energy(tile: np.ndarray, spec: np.ndarray | None = None) -> float:
    """Band energy of one 2-D float64 tile: ``sum_band |X|^2 / (N * sum(w^2))``.

    ``X`` is the DFT of the Hann-windowed tile less its mean; by Parseval the result estimates
    the variance of the tile's content inside :data:`BAND`. 0.0 when the window is all zero
    (a side of 2 pixels) or the band holds no frequency (tiny tiles). The tile is overwritten
    (windowed in place); ``spec``, when given, receives its half spectrum (numpy >= 2).
    """
    from ._kernels_freq import band_power

    h, w = tile.shape
    wy, wx = _hann(h), _hann(w)
    norm = float((wy * wy).sum() * (wx * wx).sum()) * h * w
    if norm == 0.0:
        return 0.0
    tile -= tile.mean()
    tile *= wy[:, None]
    tile *= wx[None, :]
    if spec is not None and _FFT_OUT:
        np.fft.rfft2(tile, out=spec)
    else:
        spec = np.fft.rfft2(tile)
    lo, hi = BAND_DIVISORS
    return band_power(spec, h, w, lo, hi) / norm


#: numpy >= 2: ``rfft2(..., out=)`` writes into a given array.
_FFT_OUT = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
_WORK = threading.local()


def _workspace(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A float64 ``h x w`` block and its half spectrum, kept per thread for the last block shape
    (8 MB for 540 x 960, 25 MB for 1024 x 1024): fresh arrays of that size on every call cost
    more than the FFT itself in page faults (first touch of new memory, 3.5x the time of one
    540 x 960 block on a 2-core VM)."""
    ws = getattr(_WORK, "ws", None)
    if ws is None or ws[0].shape != (h, w):
        ws = (np.empty((h, w), np.float64), np.empty((h, w // 2 + 1), np.complex128))
        _WORK.ws = ws
    return ws


def _splits(n: int) -> list[int]:
    """Boundaries cutting ``n`` pixels into ceil(n / BLOCK) near-equal blocks."""
    m = -(-n // BLOCK)
    return [i * n // m for i in range(m + 1)]


def region_energy(
    flat: np.ndarray, nch: int, geo: tuple[int, ...], y0: int, x0: int, h: int, w: int
) -> float:
    """Band energy of the ``h x w`` box at ``(y0, x0)`` of the kernel region (blocks averaged)."""
    from ._kernels_freq import gray_region

    ys, xs = _splits(h), _splits(w)
    total = 0.0
    for b0, b1 in itertools.pairwise(ys):
        for c0, c1 in itertools.pairwise(xs):
            sub = (*geo[:5], geo[5] + y0 + b0, geo[6] + x0 + c0, b1 - b0, c1 - c0)
            gray, spec = _workspace(b1 - b0, c1 - c0)
            gray_region(flat, nch, sub, gray)
            energy = band_energy(gray, spec)
            if len(ys) == 2 and len(xs) == 2:
                return energy
            total += energy * gray.size
    return total / (h * w)


def band_energy_tiles(flat: np.ndarray, nch: int, geo: tuple[int, ...], xs, ys) -> np.ndarray:
    """``cells[ti, tj, 0]`` = :func:`region_energy` of every tile of the region (float64 cells)."""
    cells = np.zeros((len(ys) - 1, len(xs) - 1, 4), np.float64)
    for ti in range(len(ys) - 1):
        for tj in range(len(xs) - 1):
            y0, x0 = int(ys[ti]), int(xs[tj])
            cells[ti, tj, 0] = region_energy(
                flat, nch, geo, y0, x0, int(ys[ti + 1]) - y0, int(xs[tj + 1]) - x0
            )
    return cells


def fftb(frame, roi=None, bin=1) -> float:
    """FFT band-pass energy (FFTB): the energy of the ROI's spectrum in a mid-frequency band.

    The gray ROI (binned to block means with ``bin > 1``) less its mean is multiplied by a 2-D
    Hann window and transformed (``numpy.fft.rfft2``, float64); the score is the power at radial
    frequencies in :data:`BAND` (1/32 to 1/4 cycles per pixel) divided by ``N * sum(w^2)``, so
    by Parseval it is the variance of the band-passed ROI (gray levels squared). Only the ROI's
    own pixels are used (no neighbours); homogeneous of degree 2 in the gray levels; ignores
    an offset. The band leaves out the lowest frequencies (illumination gradients, which focus
    barely changes) and the top half of the spectrum (pixel noise), which makes it robust on
    noisy, low-contrast frames. ROIs with a side above :data:`BLOCK` pixels are measured as the
    pixel-weighted mean over near-equal blocks of at most ``BLOCK x BLOCK`` (Welch's method), so
    memory stays bounded (about 25 MB).
    {params}
    Returns
    -------
    float
        Band-passed variance (gray levels squared; >= 0). Higher = sharper. 0.0 for tiles too
        small to hold a frequency of the band.
    {raises}
    References
    ----------
    .. [1] F. C. A. Groen, I. T. Young, G. Ligthart, "A comparison of different focus functions
       for use in autofocus algorithms", Cytometry 6(2), 1985 (spectral energy measures).
    .. [2] Y. Sun, S. Duthaler, B. J. Nelson, "Autofocusing in computer microscopy: selecting
       the optimal focus algorithm", Microscopy Research and Technique 65(3), 2004 (band-pass
       and FFT-based measures).
    .. [3] F. J. Harris, "On the use of windows for harmonic analysis with the discrete Fourier
       transform", Proc. IEEE 66(1), 1978 (the Hann window).
    """
    return compute("fftb", frame, roi, bin)


fftb.__doc__ = fftb.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
