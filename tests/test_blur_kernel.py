"""The fused blur kernel against the slow obvious version (numpy + PyWavelets), and its rule."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import pywt

from focuscam.measures import blur_report
from focuscam.measures.blur import _sampling, auto_threshold


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


def oracle_phase(frame, roi, k, threshold=None):
    """Tong 2004 the obvious way on one block grid: whole-image Haar levels, 8/4/2 max pools."""
    ll = oracle_gray(frame, roi, k)
    maps, hh1 = [], None
    for level, size in ((1, 8), (2, 4), (3, 2)):
        ll, e, hh = haar(ll)
        maps.append(pool(e, size))
        if level == 1:
            hh1 = np.abs(hh)
    e1, e2, e3 = maps
    if threshold is None:  # Donoho's MAD of the level-1 HH band, on the kernel's sample grid
        rs, cs, _count = _sampling(*e1.shape)
        sigma = float(np.median(hh1[::rs, ::cs])) / 0.6744897501960817
        if frame.dtype.kind != "f":
            sigma = max(sigma, math.sqrt(1 / 12) / k)
        contrast = float(ll.max() - ll.min())
        threshold = auto_threshold(contrast, sigma)
        noise_limited = 35 / 255 * contrast < 4.5 * sigma
    else:
        noise_limited = None
    edge = np.maximum(np.maximum(e1, e2), e3) > threshold
    da = edge & (e1 > e2) & (e2 > e3)
    roof = edge & (e2 > e1) & (e2 > e3)
    rg = (edge & (e1 < e2) & (e2 < e3)) | roof
    blurred = rg & (e1 < threshold)
    counts = np.array([int(m.sum()) for m in (edge, da, rg, roof, blurred)])
    return counts, threshold, noise_limited


def oracle(frame, roi=None, k=1, min_zero=0.05):
    """The verdict: one phase, or the sum over the 16 diagonal grid phases when one is not enough."""
    roi = roi or (0, 0, frame.shape[1], frame.shape[0])
    counts, t, noise_limited = oracle_phase(frame, roi, k)
    n, n_da = int(counts[0]), int(counts[1])
    se = math.sqrt(min_zero * (1 - min_zero) / n) if n else 0.0
    phases = 1
    if not noise_limited and n and (n < math.ceil(1 / min_zero) or abs(n_da / n - min_zero) < 2 * se):
        x, y, w, h = roi
        for s in range(1, 16):
            shifted = (x + s * k, y + s * k, w - s * k, h - s * k)
            if (h - s * k) // k < 16 or (w - s * k) // k < 16:
                break
            counts = counts + oracle_phase(frame, shifted, k, t)[0]
            phases += 1
    n, n_da, n_rg, n_roof, n_blurred = (int(c) for c in counts)
    per = n_da / n if n else 0.0
    no_evidence = noise_limited or n < phases * math.ceil(1 / min_zero)
    return {
        "n_edges": n,
        "n_dirac_astep": n_da,
        "n_gstep_roof": n_rg,
        "n_roof": n_roof,
        "n_blurred": n_blurred,
        "per": per,
        "is_blurred": per < min_zero or no_evidence,
        "no_evidence": no_evidence,
        "phases": phases,
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


ORACLE_CASES = [
    ((96, 130), np.uint8, None, 1),
    ((120, 100, 3), np.uint16, (1, 2, 98, 97), 2),
    ((64, 64, 3), np.float32, None, 1),
]


def test_the_oracle_cases_cover_pooled_single_phase_and_no_evidence_verdicts():
    # the comparison above can only catch a wrong pooling rule if its frames take every branch
    reports = [
        blur_report(scene(shape, dtype, seed=sum(shape) + k, blur=b), roi=roi, bin=k)
        for shape, dtype, roi, k in ORACLE_CASES
        for b in (0.0, 1.2, 3.0)
    ]
    assert {r.phases > 1 for r in reports} == {True, False}
    assert {r.no_evidence for r in reports} == {True, False}


def test_one_phase_settles_the_verdict_only_outside_two_standard_errors():
    from focuscam.measures.blur import _needs_phases, min_edges

    m = 0.05
    assert min_edges(m) == math.ceil(1 / m) and min_edges(0.1) == 10 and min_edges(0.0) == 0
    for n in (40, 187, 1000, 10000):
        se = math.sqrt(m * (1 - m) / n)
        inside = [d for d in range(n + 1) if abs(d / n - m) < 2 * se]
        assert all(_needs_phases(n, d, m) for d in inside)
        assert not any(_needs_phases(n, d, m) for d in range(n + 1) if d not in inside)
    assert all(_needs_phases(n, n, m) for n in range(1, min_edges(m)))  # too few edges
    assert not _needs_phases(0, 0, m)  # nothing to pool: featureless


def test_a_dark_frame_with_specks_has_no_evidence_of_sharpness():
    # a black sensor frame: a few pixels a few levels above the rest are Dirac "edges" above
    # the quantisation noise floor, but the frame's contrast is noise-limited
    rng = np.random.default_rng(5)
    frame = np.ones((256, 256), np.uint8)
    frame.flat[rng.choice(frame.size, 40, replace=False)] = rng.integers(3, 6, 40)
    report = blur_report(frame)
    assert report.n_dirac_astep > 0 and report.per > report.min_zero  # Tong's ratio alone: sharp
    assert report.no_evidence and report.is_blurred


def test_the_noise_estimate_ignores_dense_edges_and_finds_white_noise():
    rng = np.random.default_rng(6)
    cells = np.kron(rng.random((74, 74)), np.ones((7, 7)))[:512, :512].astype(np.float32)
    clean = blur_report(cells, bin=1)
    assert clean.noise < 0.01 * clean.contrast  # noise-free 7-px cells: most HH lie in a cell
    for sigma in (2.0, 8.0):
        flat = (128 + rng.normal(0, sigma, (512, 512))).astype(np.float32)
        assert blur_report(flat, bin=1).noise == pytest.approx(sigma, rel=0.1)
