"""Statistics-family focus measures: ``glvn`` (normalised gray-level variance), ``vola`` (Vollath
F4) and ``vol5`` (Vollath F5)."""

from __future__ import annotations

from . import _doc
from ._run import compute


def glvn(frame, roi=None, bin=1) -> float:
    """Normalised gray-level variance (GLVN): ``var(G) / |mean(G)|`` over the ROI.

    Uses no neighbours. Homogeneous of degree 1 in the gray levels (``glvn(c * I) == c *
    glvn(I)``) and invariant to tiling the image; 0.0 when the mean is 0.
    {params}
    Returns
    -------
    float
        Variance over mean (gray levels; >= 0). Higher = more contrast.
    {raises}
    References
    ----------
    .. [1] F. C. A. Groen, I. T. Young, G. Ligthart, "A comparison of different focus functions
       for use in autofocus algorithms", Cytometry 6(2), 1985.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator GLVN).
    """
    return compute("glvn", frame, roi, bin)


def vola(frame, roi=None, bin=1) -> float:
    """Vollath's F4 autocorrelation (VOLA), both axes.

    Mean over the ROI of ``G[i,j] * (G[i+1,j] - G[i+2,j]) + G[i,j] * (G[i,j+1] - G[i,j+2])``:
    Pertuz's vertical form plus the same along rows. Neighbours up to two pixels beyond the ROI
    are real pixels; BORDER_REFLECT_101 at the frame edges.
    {params}
    Returns
    -------
    float
        Mean autocorrelation difference (gray levels squared). Higher = sharper; can be
        negative on pathological (e.g. period-2) patterns.
    {raises}
    References
    ----------
    .. [1] D. Vollath, "Automatic focusing by correlative methods", J. Microscopy 147(3), 1987.
    .. [2] Pertuz et al., Pattern Recognition 46(5), 2013 (operator VOLA).
    """
    return compute("vola", frame, roi, bin)


def vol5(frame, roi=None, bin=1) -> float:
    """Vollath's F5 autocorrelation (VOL5), both axes.

    ``mean(G[i,j] * G[i,j+1]) + mean(G[i,j] * G[i+1,j]) - 2 * mean(G)**2`` over the ROI: the
    lag-1 autocorrelation less the squared mean, Vollath's F5 along rows plus the same along
    columns. F5 behaves like the variance but discounts uncorrelated (pixel) noise, which has no
    lag-1 correlation. Neighbours one pixel beyond the ROI are real pixels; BORDER_REFLECT_101 at
    the frame edges. Homogeneous of degree 2 in the gray levels.
    {params}
    Returns
    -------
    float
        Autocorrelation less the squared mean (gray levels squared). Higher = sharper; can be
        negative on anti-correlated (e.g. period-2) patterns.
    {raises}
    References
    ----------
    .. [1] D. Vollath, "The influence of the scene parameters and of noise on the behaviour of
       automatic focusing algorithms", J. Microscopy 151(2), 1988 (F5).
    .. [2] A. Santos, C. Ortiz de Solorzano, J. J. Vaquero, J. M. Pena, N. Malpica, F. del Pozo,
       "Evaluation of autofocus functions in molecular cytogenetic analysis", J. Microscopy
       188(3), 1997.
    """
    return compute("vol5", frame, roi, bin)


for _f in (glvn, vola, vol5):
    _f.__doc__ = _f.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
