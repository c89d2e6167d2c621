"""Wavelet-family focus measure: ``wavs`` (energy of the level-1 Haar detail bands)."""

from __future__ import annotations

from . import _doc
from ._run import compute


def wavs(frame, roi=None, bin=1) -> float:
    """Energy of the level-1 Haar detail bands (WAVS-style): ``sum(LH**2 + HL**2 + HH**2)``.

    Equal to the detail energy of ``pywt.dwt2(crop, "haar")`` where ``crop`` is the gray ROI
    (binned when ``bin > 1``): the 2 x 2 Haar blocks start at the ROI's top-left corner, and an
    odd last row or column is paired with itself, exactly like PyWavelets' default
    ``mode="symmetric"``. No pixels outside the ROI are used. Note: a sum, not a mean, so it
    grows with the ROI area (compare it only between equal ROIs).
    {params}
    Returns
    -------
    float
        Detail energy (gray levels squared; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] H. Tong, M. Li, H. Zhang, C. Zhang, "Blur detection for digital images using wavelet
       transform", IEEE ICME 2004.
    .. [2] G. Yang, B. J. Nelson, "Wavelet-based autofocusing and unsupervised segmentation of
       microscopic images", IROS 2003. Pertuz et al., Pattern Recognition 46(5), 2013 (WAVS).
    """
    return compute("wavs", frame, roi, bin)


wavs.__doc__ = wavs.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
