"""The fused blur kernel against the slow obvious version (numpy + PyWavelets), and its rule."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import pywt

from focuscam.measures import blur_report
from focuscam.measures.blur import auto_threshold


def oracle_gray(frame, roi, k):
    x, y, w, h = roi
    crop = frame[y : y + h, x : x + w]
    if crop.ndim == 3:
        if crop.dtype == np.float32:  # cv2's float path rounds in float32: the kernel uses float64
            b, g, r = (crop[..., i].astype(np.float64) for i in range(3))
            gray = b * 0.114 + g * 0.587 + r * 0.299
        else:
            gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float64)
    else:
        gray = crop.astype(np.float64)
    nby, nbx = h // k // 16, w // k // 16
    gray = gray[: nby * 16 * k, : nbx * 16 * k]
    return gray.reshape(nby * 16, k, nbx * 16, k).sum(axis=(1, 3)) * (1.0 / (k * k))


def haar(a):
    p, q, r, s = a[0::2, 0::2], a[0::2, 1::2], a[1::2, 0::2], a[1::2, 1::2]
    lh, hl, hh = (p + q - r - s) / 2.0, (p - q + r - s) / 2.0, (p - q - r + s) / 2.0
    return (p + q + r + s) / 4.0, np.sqrt(lh * lh + hl * hl + hh * hh), hh


def pool(e, size):
    h, w = e.shape[0] // size, e.shape[1] // size
    return e.reshape(h, size, w, size).max(axis=(1, 3))


def oracle(frame, roi=None, k=1, min_zero=0.05):
    """Tong 2004 the obvious way: whole-image Haar levels, 8/4/2 max pools, boolean masks."""
    roi = roi or (0, 0, frame.shape[1], frame.shape[0])
    ll = oracle_gray(frame, roi, k)
    maps, hh1 = [], None
    for level, size in ((1, 8), (2, 4), (3, 2)):
        ll, e, hh = haar(ll)
        maps.append(pool(e, size))
        if level == 1:
            hh1 = (hh * hh).reshape(hh.shape[0] // 8, 8, hh.shape[1] // 8, 8).mean(axis=(1, 3))
    e1, e2, e3 = maps
    var = float(np.median(hh1))
    if frame.dtype.kind != "f":
        var = max(var, 1 / 12 / k**2)
    t = auto_threshold(float(ll.max() - ll.min()), math.sqrt(var))
    edge = np.maximum(np.maximum(e1, e2), e3) > t
    da = edge & (e1 > e2) & (e2 > e3)
    roof = edge & (e2 > e1) & (e2 > e3)
    rg = (edge & (e1 < e2) & (e2 < e3)) | roof
    blurred = rg & (e1 < t)
    n = int(edge.sum())
    per = int(da.sum()) / n if n else 0.0
    return {
        "n_edges": n,
        "n_dirac_astep": int(da.sum()),
        "n_gstep_roof": int(rg.sum()),
        "n_roof": int(roof.sum()),
        "n_blurred": int(blurred.sum()),
        "per": per,
        "is_blurred": per < min_zero,
        "threshold": t,
    }


def scene(shape, dtype, seed, blur):
    rng = np.random.default_rng(seed)
    cells = rng.random((shape[0] // 5 + 1, shape[1] // 5 + 1, *shape[2:]))
    img = np.kron(cells, np.ones((5, 5) + (1,) * (len(shape) - 2)))[: shape[0], : shape[1]]
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, 0.01, img.shape)
    if dtype == np.float32:  # dyadic values: every sum in the kernel is exact, as in the oracle
        return (np.round(np.clip(img, 0, 1) * 1024) / 1024).astype(np.float32)
    top = 255 if dtype == np.uint8 else 4095
    return np.clip(img * top, 0, top).astype(dtype)


@pytest.mark.parametrize(
    ("shape", "dtype", "roi", "k"),
    [
        ((96, 130), np.uint8, None, 1),
        ((96, 130, 3), np.uint8, (3, 5, 97, 81), 1),
        ((120, 100, 3), np.uint16, (1, 2, 98, 97), 2),
        ((200, 150), np.uint16, None, 3),
        ((80, 112), np.float32, (7, 0, 100, 64), 1),
        ((64, 64, 3), np.float32, None, 1),
    ],
)
@pytest.mark.parametrize("blur", [0.0, 1.2, 3.0])
def test_kernel_matches_the_oracle(shape, dtype, roi, k, blur):
    frame = scene(shape, dtype, seed=sum(shape) + k, blur=blur)
    got = blur_report(frame, roi=roi, bin=k).to_dict()
    want = oracle(frame, roi, k)
    assert got["threshold"] == pytest.approx(want.pop("threshold"), rel=1e-12)
    assert {key: got[key] for key in want} == want


def test_the_oracles_haar_is_pywavelets_in_gray_levels():
    rng = np.random.default_rng(1)
    img = rng.random((64, 48)) * 255
    coeffs = pywt.wavedec2(img, "haar", level=3)
    ll = img
    for level in (1, 2, 3):
        ll, e, _hh = haar(ll)
        lh, hl, hh = coeffs[4 - level]
        np.testing.assert_allclose(e, np.sqrt(lh**2 + hl**2 + hh**2) / 2.0 ** (level - 1), rtol=1e-12)
    np.testing.assert_allclose(ll, coeffs[0] / 8.0, rtol=1e-12)


def test_auto_bin_keeps_16x16_binned_pixels():
    frame = scene((40, 300), np.uint16, seed=2, blur=0)  # auto bin of a uint16 frame would be >= 1
    report = blur_report(frame)
    assert 40 // report.bin >= 16 and 300 // report.bin >= 16
