"""Slow, obvious reference implementations of the focus measures (plain numpy / OpenCV / pywt).

Every oracle builds the gray image explicitly (cv2.cvtColor for BGR), pads it with an explicit
BORDER_REFLECT_101 index map, and evaluates the operator with whole-array numpy arithmetic in
float64. Nothing here shares code with focuscam.measures.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pywt


def gray64(frame: np.ndarray) -> np.ndarray:
    """Gray image as float64: cv2.cvtColor(BGR2GRAY) for 3 channels, else the frame itself."""
    if frame.ndim == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return frame.astype(np.float64)


def reflect101(p: int, n: int) -> int:
    """OpenCV's BORDER_REFLECT_101 index, written out plainly."""
    if n == 1:
        return 0
    while p < 0 or p >= n:
        p = -p if p < 0 else 2 * (n - 1) - p
    return p


def binned(img: np.ndarray, k: int) -> np.ndarray:
    """Mean of k x k blocks, remainder rows/columns dropped."""
    h, w = img.shape[0] // k, img.shape[1] // k
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = img[i * k : (i + 1) * k, j * k : (j + 1) * k].mean()
    return out


def context(frame: np.ndarray, roi=None, k: int = 1, pad: int = 2):
    """(P, h, w): the virtual gray image padded by ``pad`` (reflect-101) and the region size.

    bin 1: the whole frame is the context and P[pad:pad+h, pad:pad+w] is the ROI with its real
    neighbours around it. bin k: the context is the binned gray crop of the ROI.
    """
    g = gray64(frame)
    H, W = g.shape
    x, y, w, h = roi if roi is not None else (0, 0, W, H)
    if k == 1:
        base, oy, ox = g, y, x
    else:
        base = binned(g[y : y + h, x : x + w], k)
        oy, ox = 0, 0
        h, w = base.shape
    rows = [reflect101(r, base.shape[0]) for r in range(oy - pad, oy + h + pad)]
    cols = [reflect101(c, base.shape[1]) for c in range(ox - pad, ox + w + pad)]
    return base[np.ix_(rows, cols)], h, w


def _shift(P, h, w, dy, dx, pad=2):
    return P[pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def lapv(frame, roi=None, k=1):
    """Reference LAPV via OpenCV: cv2.Laplacian(CV_64F) on the gray (binned crop), then .var()."""
    if k == 1:
        g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        if g.dtype == np.float32:
            g = g.astype(np.float64)
        x, y, w, h = roi if roi is not None else (0, 0, g.shape[1], g.shape[0])
        return float(cv2.Laplacian(g, cv2.CV_64F)[y : y + h, x : x + w].var())
    P, h, w = context(frame, roi, k, pad=0)
    return float(cv2.Laplacian(P, cv2.CV_64F).var())


def lapv_numpy(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    return float((s(-1, 0) + s(1, 0) + s(0, -1) + s(0, 1) - 4 * s(0, 0)).var())


def lapm(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    return float((np.abs(2 * s(0, 0) - s(0, -1) - s(0, 1)) + np.abs(2 * s(0, 0) - s(-1, 0) - s(1, 0))).mean())


def lapd(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    c2 = 2 * s(0, 0)
    axial = np.abs(c2 - s(0, -1) - s(0, 1)) + np.abs(c2 - s(-1, 0) - s(1, 0))
    diag = np.abs(c2 - s(-1, -1) - s(1, 1)) + np.abs(c2 - s(-1, 1) - s(1, -1))
    return float((axial + diag / math.sqrt(2)).mean())


def sobel(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    gx = (s(-1, 1) + 2 * s(0, 1) + s(1, 1)) - (s(-1, -1) + 2 * s(0, -1) + s(1, -1))
    gy = (s(1, -1) + 2 * s(1, 0) + s(1, 1)) - (s(-1, -1) + 2 * s(-1, 0) + s(-1, 1))
    return gx, gy


def teng(frame, roi=None, k=1):
    gx, gy = sobel(frame, roi, k)
    return float((gx**2 + gy**2).mean())


def tenv(frame, roi=None, k=1):
    gx, gy = sobel(frame, roi, k)
    return float((gx**2 + gy**2).var())


def bren(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    d = np.maximum(np.abs(s(0, 1) - s(0, -1)), np.abs(s(1, 0) - s(-1, 0)))
    return float((d**2).mean())


def glvn(frame, roi=None, k=1):
    P, _h, _w = context(frame, roi, k, pad=0)
    mean = P.mean()
    return 0.0 if mean == 0 else float(P.var() / abs(mean))


def vola(frame, roi=None, k=1):
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    c = s(0, 0)
    return float((c * (s(1, 0) - s(2, 0)) + c * (s(0, 1) - s(0, 2))).mean())


def wavs(frame, roi=None, k=1):
    """Energy of pywt.dwt2(crop, 'haar') detail bands (default mode 'symmetric')."""
    P, _h, _w = context(frame, roi, k, pad=0)
    _, (lh, hl, hh) = pywt.dwt2(P, "haar")
    return float((lh**2).sum() + (hl**2).sum() + (hh**2).sum())


def vol5(frame, roi=None, k=1):
    """Vollath F5 both axes: mean(c * right) + mean(c * down) - 2 mean(c)**2."""
    P, h, w = context(frame, roi, k)
    s = lambda dy, dx: _shift(P, h, w, dy, dx)  # noqa: E731
    c = s(0, 0)
    return float((c * s(0, 1)).mean() + (c * s(1, 0)).mean() - 2 * c.mean() ** 2)


def _dft_matrix(n):
    k = np.arange(n)
    return np.exp(-2j * np.pi * np.outer(k, k) / n)


def _hann(n):
    if n == 1:
        return np.ones(1)
    k = np.arange(n)
    return 0.5 - 0.5 * np.cos(2 * np.pi * k / (n - 1))


def fftb(frame, roi=None, k=1, band=(32, 4)):
    """Band energy by the definition: the full DFT as matrix products, an explicit radial mask.

    Frequency (a/h, b/w) cycles/pixel is in the band 1/32..1/4 when 1/32 <= |f| <= 1/4, tested
    with Fractions (exactly).
    """
    from fractions import Fraction

    P, h, w = context(frame, roi, k, pad=0)
    win = np.outer(_hann(h), _hann(w))
    X = _dft_matrix(h) @ ((P - P.mean()) * win) @ _dft_matrix(w).T
    mask = np.zeros((h, w), bool)
    for a in range(h):
        for b in range(w):
            fa = Fraction(min(a, h - a), h)
            fb = Fraction(min(b, w - b), w)
            r2 = fa * fa + fb * fb
            mask[a, b] = Fraction(1, band[0] ** 2) <= r2 <= Fraction(1, band[1] ** 2)
    norm = h * w * (win**2).sum()
    return 0.0 if norm == 0 else float((np.abs(X) ** 2 * mask).sum() / norm)


ORACLES = {
    "lapv": lapv,
    "lapm": lapm,
    "lapd": lapd,
    "teng": teng,
    "tenv": tenv,
    "bren": bren,
    "glvn": glvn,
    "vola": vola,
    "wavs": wavs,
    "vol5": vol5,
    "fftb": fftb,
}
