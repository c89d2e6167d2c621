"""What ``GET /api/state`` answers (and every ``state`` event carries): the engine as JSON."""

from __future__ import annotations

from typing import Any

from ..errors import FocuscamError
from ..types import json_number as num

__all__ = ["num", "state_json", "strategies", "unit"]


def strategies() -> dict[str, Any]:
    """The search strategies an autofocus may name, and the default."""
    from ..search import DEFAULT_STRATEGY, STRATEGIES

    return {"names": sorted(STRATEGIES), "default": DEFAULT_STRATEGY}


def unit(twin: Any) -> dict[str, Any]:
    """The unit of the page's axes: the stack's on the twin, else um."""
    if twin is not None:
        return {"name": twin.stack.z_unit or "index", "um_per_unit": twin.scale_um}
    return {"name": "um", "um_per_unit": 1.0}


def state_json(scope: Any, *, samples: bool = True) -> dict[str, Any]:
    """The state of a :class:`~focuscam.web.engine.Microscope` (see the README for every key)."""
    s = scope.sample or {}
    jobs, hub, monitor = scope.jobs, scope.hub, scope.monitor
    drive = jobs.drive
    z = None
    if drive is not None:
        try:
            z = num(drive.position)
        except FocuscamError:
            z = None
    roi = monitor.roi
    last = jobs.controller.last_result if jobs.controller is not None else None
    out: dict[str, Any] = {
        "state": jobs.state,
        "phase": jobs.phase,
        "reason": jobs.reason,
        "confidence": None if jobs.confidence is None else round(float(jobs.confidence), 4),
        "z_um": z if z is not None else num(s.get("z_um")),
        "score": s.get("score"),
        "measure": monitor.measure,
        "autofocus_measure": jobs.measure,
        "measures": list(scope.actions.measures),
        "strategies": strategies(),
        "roi": None if roi is None else {"x": roi.x, "y": roi.y, "w": roi.w, "h": roi.h},
        "grid": list(monitor.grid) if monitor.grid is not None else None,
        "focus_map": s.get("focus_map"),
        "fps": s.get("fps"),
        "dropped": s.get("dropped"),
        "lock": {"on": jobs.owner == "lock", "available": bool(last is not None and last.focused)},
        "owner": jobs.owner,
        "controller": scope.desk.to_json(),
        "watchers": scope.desk.watchers,
        "recording": scope.actions.writer is not None,
        "drive": None
        if drive is None
        else {"limits_um": [drive.limits.lo, drive.limits.hi], "jog_um": scope.actions.jog_um},
        "unit": unit(jobs.twin),
        "frame": None if hub.source.size is None else list(hub.source.size),
        "source": hub.source.name,
        "source_ended": hub.ended,
        "source_error": None if hub.error is None else str(hub.error),
    }
    if samples:
        out["last_result"] = jobs.result
    return out
