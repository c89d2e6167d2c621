"""Gradient-family focus measures: ``teng`` (Tenengrad), ``tenv`` (Tenengrad variance), ``bren``."""

from __future__ import annotations

from . import _doc
from ._run import compute


def teng(frame, roi=None, bin=1) -> float:
    """Tenengrad (TENG): mean of ``Gx**2 + Gy**2`` with the 3 x 3 Sobel operators.

    ``Gx``, ``Gy`` equal ``cv2.Sobel(gray, cv2.CV_64F, 1, 0)`` and ``(0, 1)`` (ksize 3,
    BORDER_REFLECT_101 at frame edges, real neighbours outside the ROI).
    {params}
    Returns
    -------
    float
        Mean squared Sobel gradient magnitude (gray levels squared; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] J. M. Tenenbaum, "Accommodation in computer vision", PhD thesis, Stanford, 1970.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator TENG).
    """
    return compute("teng", frame, roi, bin)


def tenv(frame, roi=None, bin=1) -> float:
    """Tenengrad variance (TENV): population variance of ``Gx**2 + Gy**2`` (3 x 3 Sobel).

    Accumulated in float64 (the fourth powers of 16-bit gradients do not fit int64).
    Borders as for :func:`teng`.
    {params}
    Returns
    -------
    float
        Variance of the squared Sobel gradient magnitude (gray levels to the 4th; >= 0).
    {raises}
    References
    ----------
    .. [1] Pech-Pacheco et al., ICPR 2000.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator TENV).
    """
    return compute("tenv", frame, roi, bin)


def bren(frame, roi=None, bin=1) -> float:
    """Brenner's focus measure (BREN), centred form.

    Mean of ``max(|G[i, j+1] - G[i, j-1]|, |G[i+1, j] - G[i-1, j]|)**2``: the squared difference
    of pixels two apart (Brenner), taken in the stronger of the two axes (Pertuz's form, with
    absolute values) and centred on each ROI pixel so that it uses the same 3 x 3 border rule as
    :func:`lapv`.
    {params}
    Returns
    -------
    float
        Mean squared two-pixel difference (gray levels squared; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] J. F. Brenner et al., "An automated microscope for cytologic research",
       J. Histochem. Cytochem. 24(1), 1976.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator BREN).
    """
    return compute("bren", frame, roi, bin)


for _f in (teng, tenv, bren):
    _f.__doc__ = _f.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
