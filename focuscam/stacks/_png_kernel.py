"""The numba kernel of :mod:`._png`: PNG's per-row filters undone (the one decorator policy of
focuscam's kernels, ``@njit(cache=True, nogil=True)``; see :mod:`focuscam.measures._kernels`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..measures._compile import quick_cache_load


@njit(cache=True, nogil=True)
def unfilter(raw, height, stride, bpp, out):
    """``out[r]`` = row ``r`` of the image from the inflated IDAT bytes ``raw`` (a filter-type
    byte then ``stride`` bytes per row); False on a filter type other than 0..4."""
    for r in range(height):
        base = r * (stride + 1)
        ftype = raw[base]
        src = raw[base + 1 : base + 1 + stride]
        dst = out[r]
        if ftype == 0:
            dst[:] = src
        elif ftype == 1:  # Sub
            for i in range(bpp):
                dst[i] = src[i]
            for i in range(bpp, stride):
                dst[i] = np.uint8(src[i] + dst[i - bpp])
        elif ftype == 2:  # Up
            if r == 0:
                dst[:] = src
            else:
                up = out[r - 1]
                for i in range(stride):
                    dst[i] = np.uint8(src[i] + up[i])
        elif ftype == 3:  # Average
            if r == 0:
                for i in range(bpp):
                    dst[i] = src[i]
                for i in range(bpp, stride):
                    dst[i] = np.uint8(src[i] + (dst[i - bpp] >> 1))
            else:
                up = out[r - 1]
                for i in range(bpp):
                    dst[i] = np.uint8(src[i] + (up[i] >> 1))
                for i in range(bpp, stride):
                    dst[i] = np.uint8(src[i] + ((np.int32(dst[i - bpp]) + np.int32(up[i])) >> 1))
        elif ftype == 4:  # Paeth
            if r == 0:  # above is zero: Paeth picks the left byte (Sub)
                for i in range(bpp):
                    dst[i] = src[i]
                for i in range(bpp, stride):
                    dst[i] = np.uint8(src[i] + dst[i - bpp])
            else:
                up = out[r - 1]
                for i in range(bpp):
                    dst[i] = np.uint8(src[i] + up[i])
                for i in range(bpp, stride):
                    a = np.int32(dst[i - bpp])
                    b = np.int32(up[i])
                    c = np.int32(up[i - bpp])
                    p = a + b - c
                    pa = abs(p - a)
                    pb = abs(p - b)
                    pc = abs(p - c)
                    if pa <= pb and pa <= pc:
                        pred = a
                    elif pb <= pc:
                        pred = b
                    else:
                        pred = c
                    dst[i] = np.uint8((np.int32(src[i]) + pred) & 255)
        else:
            return False
    return True


@njit(cache=True, nogil=True)
def swap_rb(img):
    """Swap the first and third channel of every pixel of an ``H x W x C`` image in place (RGB(A)
    -> BGR(A))."""
    for r in range(img.shape[0]):
        row = img[r]
        for c in range(img.shape[1]):
            t = row[c, 0]
            row[c, 0] = row[c, 2]
            row[c, 2] = t


quick_cache_load(globals())  # cached kernels load without numba's target refresh (see measures._compile)
