"""Laplacian-family focus measures: ``lapv`` (primary), ``lapm``, ``lapd``."""

from __future__ import annotations

from . import _doc
from ._run import compute


def lapv(frame, roi=None, bin=1) -> float:
    """Variance of the Laplacian (LAPV), the primary focus measure.

    The 3 x 3 Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` is evaluated at every ROI pixel
    and the population variance of the responses is returned. Equal to
    ``cv2.Laplacian(gray, cv2.CV_64F)[y:y+h, x:x+w].var()`` (relative 1e-9 for integer
    frames; 1e-5 for float32, where OpenCV is run on ``gray.astype(np.float64)``). Integer
    frames are accumulated exactly in integers.
    {params}
    Returns
    -------
    float
        Variance of the Laplacian (gray levels squared; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] J. L. Pech-Pacheco, G. Cristobal, J. Chamorro-Martinez, J. Fernandez-Valdivia,
       "Diatom autofocusing in brightfield microscopy: a comparative study", ICPR 2000.
    .. [2] S. Pertuz, D. Puig, M. A. Garcia, "Analysis of focus measure operators for
       shape-from-focus", Pattern Recognition 46(5), 2013 (operator LAPV).
    """
    return compute("lapv", frame, roi, bin)


def lapm(frame, roi=None, bin=1) -> float:
    """Modified Laplacian (LAPM, Nayar): mean of ``|2G - G_left - G_right| + |2G - G_up - G_down|``.

    Borders as for :func:`lapv` (real neighbours outside the ROI, BORDER_REFLECT_101 at the
    frame edges).
    {params}
    Returns
    -------
    float
        Mean modified Laplacian (gray levels; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] S. K. Nayar, Y. Nakagawa, "Shape from focus", IEEE TPAMI 16(8), 1994.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator LAPM).
    """
    return compute("lapm", frame, roi, bin)


def lapd(frame, roi=None, bin=1) -> float:
    """Diagonal Laplacian (LAPD): modified Laplacian plus the two diagonal second differences.

    Mean of ``|2G - G_l - G_r| + |2G - G_u - G_d| + (|2G - G_ul - G_dr| + |2G - G_ur - G_dl|) / sqrt(2)``.
    Borders as for :func:`lapv`.
    {params}
    Returns
    -------
    float
        Mean diagonal Laplacian (gray levels; >= 0). Higher = sharper.
    {raises}
    References
    ----------
    .. [1] A. Thelen, S. Frey, S. Hirsch, P. Hering, "Improvements in shape-from-focus for
       holographic reconstructions with regard to focus operators, neighborhood-size, and
       height value interpolation", IEEE TIP 18(1), 2009.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator LAPD).
    """
    return compute("lapd", frame, roi, bin)


for _f in (lapv, lapm, lapd):
    _f.__doc__ = _f.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
