"""Which focus measure scores a curve when none is named (``select``, ``autofocus``, ``calibrate``).

No numpy, numba or drives here: ``select`` and ``calibrate`` need these names without loading
the closed loop.
"""

from __future__ import annotations

__all__ = ["AUTO", "AUTO_MEASURES", "default_measure"]

#: ``measure=AUTO`` (the default of ``autofocus``): the mode's default measure, and the other
#: automatic measures when its curve shows no significant peak (see
#: :class:`focuscam.autofocus.Autofocus`); for ``select``, the most significant of them.
AUTO = "auto"

#: The candidates of ``measure="auto"``: one measure of each family that reacts differently to
#: sparse features, photon noise and background (Laplacian: fine detail, drowned first by
#: pixel noise; gradient: edges, more robust to noise; statistics: global contrast, no
#: neighbours, the one that sees a brightfield minimum).
AUTO_MEASURES = ("lapv", "teng", "glvn")


def default_measure(mode: str) -> str:
    """The measure used when none is named: ``lapv``; ``glvn`` in brightfield.

    In brightfield the focal plane is the contrast minimum; the normalised gray-level variance
    (variance / mean, like the standard deviation that BFAutofocus uses) shows that minimum
    clearly, where Laplacian measures are dominated by the edges of the two maxima.
    """
    return "glvn" if mode == "brightfield" else "lapv"
