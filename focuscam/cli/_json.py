"""The JSON documents the CLI prints: every object and ndjson line carries ``"schema"``.

Scripts can rely on :data:`SCHEMA` (``"focuscam/1"``): a key is added in a later ``focuscam/1``
output, never removed or renamed; an incompatible change bumps the version.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

__all__ = ["SCHEMA", "dump_line", "versioned"]

#: The version key of every JSON document focuscam prints.
SCHEMA = "focuscam/1"


def versioned(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``"schema": SCHEMA`` as its first key (a new dict; ``doc`` is untouched)."""
    return {"schema": SCHEMA, **{k: v for k, v in doc.items() if k != "schema"}}


def dump_line(doc: dict[str, Any], stream: TextIO | None = None, *, flush: bool = False) -> None:
    """Write ``doc`` (versioned) as one JSON line to ``stream`` (default stdout); NaN is refused."""
    stream = sys.stdout if stream is None else stream
    stream.write(json.dumps(versioned(doc), allow_nan=False) + "\n")
    if flush:
        stream.flush()
