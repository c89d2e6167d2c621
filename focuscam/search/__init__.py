"""Search strategies: pure objects that propose the next focus position and observe scores.

No I/O, threads or UI: the same strategy runs on a replayed stack and on live hardware.
``peak`` holds the peak fit that every strategy and plane selection end with.

Strategies (registry names): ``model`` (the default), ``sweep``, ``coarse-fine``, ``golden``,
``brent``, ``hill-climb``, ``continuous``. Build one with :func:`make_strategy`.
``significance`` holds the one significance rule every strategy, ``select`` and ``evaluate``
share.
"""

from __future__ import annotations

import importlib

from .base import DEFAULT_STRATEGY, STRATEGIES, SearchResult, SearchStrategy, make_strategy

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "SearchResult", "SearchStrategy", "make_strategy"]

_MODULES = ("sweep", "coarse_fine", "golden", "hill_climb", "continuous", "brent", "model")


def _load_all() -> None:
    """Import every strategy module so that :data:`STRATEGIES` is complete."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


_load_all()
