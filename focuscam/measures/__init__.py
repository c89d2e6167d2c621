"""Focus measures: frame (+ ROI) -> sharpness score, computed by numba kernels in one pass.

Public API: :func:`measure`, :func:`focus_map`, :func:`blur_report` (:class:`BlurReport`),
:data:`MEASURES`, :func:`resolve_bin`. Every measure takes a 2-D gray or H x W x 3 BGR frame (uint8, uint16 or
float32), an optional ROI ``(x, y, w, h)`` and a bin factor (1..16 or ``"auto"``).
"""

from __future__ import annotations

from .._lazy import lazy_api

#: Measure name -> one-line description.
MEASURES = {
    "lapv": "variance of the 3x3 Laplacian (primary; equals cv2.Laplacian(gray, CV_64F).var())",
    "lapm": "modified Laplacian (Nayar): mean |d2/dx2| + |d2/dy2|",
    "lapd": "diagonal Laplacian: modified Laplacian plus diagonal second differences",
    "teng": "Tenengrad: mean squared 3x3 Sobel gradient magnitude",
    "tenv": "Tenengrad variance: variance of the squared Sobel gradient magnitude",
    "bren": "Brenner: mean squared difference of pixels two apart (stronger axis)",
    "glvn": "normalised gray-level variance: var / mean (no neighbours)",
    "vola": "Vollath F4 autocorrelation, both axes",
    "wavs": "energy of the level-1 Haar detail bands (= pywt.dwt2 LH+HL+HH energy)",
    "vol5": "Vollath F5: lag-1 autocorrelation less the squared mean, both axes",
    "fftb": "FFT band-pass energy: Hann-windowed spectrum power at 1/32..1/4 cycles/pixel",
}

# public name -> module that defines it (imported on first use, so MEASURES costs no numpy)
_API = {
    "measure": "focuscam.measures._api",
    "focus_map": "focuscam.measures._api",
    "blur_report": "focuscam.measures.blur",
    "BlurReport": "focuscam.measures.blur",
    "resolve_bin": "focuscam.measures.autobin",
    "lapv": "focuscam.measures.laplacian",
    "lapm": "focuscam.measures.laplacian",
    "lapd": "focuscam.measures.laplacian",
    "teng": "focuscam.measures.gradient",
    "tenv": "focuscam.measures.gradient",
    "bren": "focuscam.measures.gradient",
    "glvn": "focuscam.measures.statistics",
    "vola": "focuscam.measures.statistics",
    "vol5": "focuscam.measures.statistics",
    "wavs": "focuscam.measures.wavelet",
    "fftb": "focuscam.measures.spectral",
}

__all__ = ["MEASURES", *sorted(_API)]

__getattr__, __dir__ = lazy_api("focuscam.measures", _API, globals(), extra=("MEASURES",))
