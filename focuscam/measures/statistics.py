"""Statistics-family focus measures: ``glvn`` (normalised gray-level variance), ``vola`` (Vollath F4)."""

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


for _f in (glvn, vola):
    _f.__doc__ = _f.__doc__.format(params=_doc.PARAMS, raises=_doc.RAISES)
