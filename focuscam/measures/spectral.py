"""Spectral focus measure: ``fftb``, the energy of a mid-frequency band of the 2-D spectrum.

The gray region (block sums with ``bin > 1``) less its mean, times the Hann window, is loaded by
a numba kernel (:func:`focuscam.measures._kernels_freq.windowed_region`, the same fused
BGR->gray as every measure); the transform is numpy's FFT in float64 (a streaming numba kernel
cannot beat a tuned FFT here, and the FFT needs a whole block at once), the rows whole and
down the columns only the first quarter of the half spectrum, the part that can hold the band
(:func:`_spectrum_band`). Memory is bounded whatever the ROI: a region with a side longer than
:data:`BLOCK` pixels is cut into near-equal blocks of at most ``BLOCK x BLOCK`` whose band
energies are averaged, weighted by their pixels (Welch's method of averaged periodograms); the
buffers of one block (float64 gray, the two transform stages) take about 20 bytes per pixel,
some 20 MB, and are kept per thread for the next call. The band's power is summed by a numba
kernel (:func:`focuscam.measures._kernels_freq.band_power`) that tests the band on integers as
it goes, so no mask or power array is made.
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


def _window(h: int, w: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The Hann windows of a block's rows and columns and ``N * sum(w^2)`` (0.0: no window)."""
    wy, wx = _hann(h), _hann(w)
    return wy, wx, float((wy * wy).sum() * (wx * wx).sum()) * h * w


def _band_columns(w: int) -> int:
    """The half-spectrum columns that can hold a frequency of the band: ``v <= w / hi``."""
    return min(w // BAND_DIVISORS[1], w // 2) + 1


def _spectrum_band(tile: np.ndarray, rows: np.ndarray | None, cols: np.ndarray | None) -> float:
    """``sum_band |X|^2`` of a windowed float64 tile, transforming only what the band needs.

    The rows are transformed whole (``rfft`` along axis 1), but only the first
    :func:`_band_columns` of them are transformed down the columns (``fft`` along axis 0):
    a frequency ``(u/h, v/w)`` with ``v > w / 4`` is outside the band whatever ``u``, so the
    skipped part of ``rfft2`` (about half of its column transforms) never reaches the sum.
    ``rows``, ``cols``: buffers for the two stages (numpy >= 2), or None.
    """
    from ._kernels_freq import band_power

    h, w = tile.shape
    nc = _band_columns(w)
    if rows is not None and _FFT_OUT:
        np.fft.rfft(tile, axis=1, out=rows)
        np.fft.fft(rows[:, :nc], axis=0, out=cols)
        spec = cols
    else:
        spec = np.fft.fft(np.fft.rfft(tile, axis=1)[:, :nc], axis=0)
    lo, hi = BAND_DIVISORS
    return band_power(spec, h, w, lo, hi)


#: numpy >= 2: ``rfft(..., out=)`` and ``fft(..., out=)`` write into given arrays.
_FFT_OUT = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
_WORK = threading.local()


def _workspace(h: int, w: int) -> tuple:
    """Per thread, for the last block shape: a float64 ``h x w`` block, the buffers of the two
    transform stages and the window (about 20 MB for 1024 x 1024): fresh arrays of that size
    on every call cost more than the FFT itself in page faults (first touch of new memory,
    3.5x the time of one 540 x 960 block on a 2-core VM)."""
    ws = getattr(_WORK, "ws", None)
    if ws is None or ws[0].shape != (h, w):
        ws = (
            np.empty((h, w), np.float64),
            np.empty((h, w // 2 + 1), np.complex128),
            np.empty((h, _band_columns(w)), np.complex128),
            *_window(h, w),
        )
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
    ys, xs = _splits(h), _splits(w)
    total = 0.0
    for b0, b1 in itertools.pairwise(ys):
        for c0, c1 in itertools.pairwise(xs):
            sub = (*geo[:5], geo[5] + y0 + b0, geo[6] + x0 + c0, b1 - b0, c1 - c0)
            energy = _block_energy(flat, nch, sub)
            if len(ys) == 2 and len(xs) == 2:
                return energy
            total += energy * (b1 - b0) * (c1 - c0)
    return total / (h * w)


def _block_energy(flat: np.ndarray, nch: int, sub: tuple[int, ...]) -> float:
    """Band energy of one block (kernel geometry ``sub``): ``sum_band |X|^2 / (N * sum(w^2))``.

    ``X`` is the DFT of the Hann-windowed block less its mean; by Parseval the result estimates
    the variance of the block's content inside :data:`BAND`. 0.0 when the window is all zero
    (a side of 2 pixels) or the band holds no frequency (tiny blocks). Computed in this
    thread's workspace.
    """
    from ._kernels_freq import windowed_region

    tile, rows, cols, wy, wx, norm = _workspace(sub[7], sub[8])
    if norm == 0.0:
        return 0.0
    windowed_region(flat, nch, sub, wy, wx, tile)
    return _spectrum_band(tile, rows, cols) / norm


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
