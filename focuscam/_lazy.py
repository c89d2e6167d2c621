"""Lazy public namespaces: names resolve to their defining module on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_api(
    package: str, api: Mapping[str, str], namespace: dict[str, Any], extra: tuple[str, ...] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose public names load lazily.

    ``api`` maps each public name to the module defining it; a name is imported on first
    access and then kept in ``namespace`` (the package's globals). ``__dir__`` lists the public
    names (and ``extra``) only, not the package's own imports.
    """

    def __getattr__(name: str) -> Any:
        module = api.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*api, *extra})

    return __getattr__, __dir__
